"""Lazy pxr import with a friendly error."""
from __future__ import annotations

import importlib


def pxr(*modules: str):
    try:
        mods = [importlib.import_module(f"pxr.{m}") for m in modules]
    except ImportError as e:
        from sdk.errors import MissingDependencyError
        raise MissingDependencyError("usd-core", "USD export", "pip install usd-core") from e
    return mods[0] if len(mods) == 1 else mods
