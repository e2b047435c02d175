"""Lazy heavy imports with a friendly error."""
from __future__ import annotations

import importlib


def pxr(module: str):
    """``pxr(\"Usd\")`` -> pxr.Usd, or MissingDependencyError naming usd-core."""
    try:
        return importlib.import_module(f"pxr.{module}")
    except ImportError as e:
        from ..errors import MissingDependencyError
        raise MissingDependencyError("usd-core", "USD input/output", "pip install usd-core") from e
