"""articulate SDK: game-ready rigs, articulation joints and 4D caches from 3D assets and videos.

Heavy pieces load lazily: ``import sdk`` is cheap.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Articulator", "load_asset", "load_sequence", "save", "config", "__version__"]


def __getattr__(name):
    if name == "Articulator":
        from .articulator import Articulator
        return Articulator
    if name in ("load_asset", "load_sequence", "save"):
        from . import io
        return getattr(io, name)
    if name in ("config", "client"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(name)
