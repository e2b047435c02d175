"""Registries of the articulation pipeline's pluggable pieces (light: importing this loads no torch).

* ``AXIS_ESTIMATORS``: (part points, articulated states, body points, *, types, seed, obb_points) -> AxisEstimate
* ``PRIORS``: motion priors (``MotionPrior`` protocol in ``prior.py``); each entry says whether it can run here
  (the CLI offers only those) and how to build it from ``get_prior``'s keywords.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..util.registry import Registry

AXIS_ESTIMATORS: Registry[Callable] = Registry("axis estimator", "method")


def _atop_search(*args, **kw):  # ATOP's OBB candidates + Chamfer search
    from .axis_search import atop_search
    return atop_search(*args, **kw)


def _direct(*args, **kw):  # continuous optimisation baseline
    from .axis_search import direct_optimization
    return direct_optimization(*args, **kw)


AXIS_ESTIMATORS.register("atop_search", _atop_search)
AXIS_ESTIMATORS.register("direct", _direct)


@dataclass(frozen=True)
class PriorEntry:
    build: Callable          # (**kw) -> MotionPrior
    available: bool = True   # False: an interface whose back end is missing (it would only fail)


PRIORS: Registry[PriorEntry] = Registry("motion prior", "prior")


def _physics(**kw):
    from .prior import PhysicsPrior
    return PhysicsPrior(kw.get("config"))


def _diffusion(**kw):
    from .prior import DiffusionPrior
    return DiffusionPrior(**{k: v for k, v in kw.items() if k in ("category", "weights_dir")})


PRIORS.register("physics", PriorEntry(_physics))
PRIORS.register("diffusion", PriorEntry(_diffusion, available=False))


def available_priors() -> tuple[str, ...]:
    return PRIORS.names(lambda e: e.available)
