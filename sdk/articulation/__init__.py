"""Articulating props: ATOP's OBB axis search + a weight-free physics motion prior (see docs/articulation.md).

``articulate_part(mesh, part, prompt=None) -> Joint`` and ``articulate_object(asset, prompts=None) -> Articulation``.
"""
from .articulate import ArticulateConfig, articulate_object, articulate_part, infer_tree

__all__ = ["ArticulateConfig", "articulate_object", "articulate_part", "infer_tree"]
