"""Imported once by the job fork server: the modules jobs use, so that each job's process starts warm.

The SDK imports heavy dependencies lazily inside its functions (scipy.sparse.csgraph, scipy.spatial, pxr...);
a forked job would otherwise import them again every time (measured: ~1-3 s of a 2k-vertex rig's 1.2-3.5 s).
Only imports happen here — no computation, so no thread pool (OpenMP, BLAS) is started before the fork.
"""
from __future__ import annotations

import importlib
import pkgutil

PACKAGES = ("sdk.rigging", "sdk.io", "sdk.motionrig", "sdk.articulation", "exporters")
MODULES = ("scipy.sparse", "scipy.sparse.csgraph", "scipy.sparse.linalg", "scipy.spatial", "scipy.special",
           "scipy.optimize", "scipy.linalg", "trimesh", "pygltflib", "pxr.Usd", "pxr.UsdGeom", "pxr.UsdSkel",
           "pxr.UsdPhysics", "pxr.UsdShade", "pxr.Sdf", "pxr.Gf", "pxr.Vt")


def _tree(name: str) -> None:
    try:
        pkg = importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a package missing from this build fails in its job, by name
        return
    for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), name + "."):
        try:
            importlib.import_module(info.name)
        except Exception:  # noqa: BLE001
            pass


for _p in PACKAGES:
    _tree(_p)
for _m in MODULES:
    try:
        importlib.import_module(_m)
    except Exception:  # noqa: BLE001
        pass
