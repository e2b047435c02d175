"""Procedurally generated articulated objects (boxes and cylinders with joints) and their animation.

See :mod:`sdk.procedural.articulated`. Numpy in and out, no other dependency.
"""
from .articulated import (CATEGORIES, ArticulatedObject, Part, PartedMesh, Primitive, box_mesh, cylinder_mesh,
                          generate, random_object)

__all__ = ["CATEGORIES", "ArticulatedObject", "Part", "PartedMesh", "Primitive", "box_mesh", "cylinder_mesh",
           "generate", "random_object"]
