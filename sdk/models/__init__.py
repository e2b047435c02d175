"""Learned models. ``registry`` lists them and finds their weight files; ``sp4d`` is SP4D."""
from .registry import MODELS, find_weight, require_weight, status

__all__ = ["MODELS", "find_weight", "require_weight", "status"]
