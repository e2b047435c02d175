"""Run OpenUSD's validators (pxr.UsdValidation, every registered validator) on a file."""
from __future__ import annotations

from pathlib import Path

from ._pxr import pxr


def validate_usd(path: str | Path) -> list[str]:
    """Return a list of human-readable problems (empty when the file is clean).

    Opens the stage (composition errors count), runs every validator in the registry
    (stage metadata, UsdSkel binding, UsdPhysics joints/articulations/rigid bodies, UsdGeom, ...).
    """
    Usd, UsdValidation = pxr("Usd", "UsdValidation")
    stage = Usd.Stage.Open(str(path))
    if stage is None:
        return [f"{path}: stage could not be opened"]
    problems = [f"composition: {e}" for e in stage.GetCompositionErrors()]
    reg = UsdValidation.ValidationRegistry()
    ctx = UsdValidation.ValidationContext(reg.GetOrLoadAllValidators())
    for err in ctx.Validate(stage):
        if err.GetType() in (UsdValidation.ValidationErrorType.Error, UsdValidation.ValidationErrorType.Warn):
            sites = ", ".join(str(s.GetPrim().GetPath()) if s.GetPrim() else "" for s in err.GetSites())
            problems.append(f"{err.GetName()}: {err.GetMessage()} [{sites}]")
    return problems
