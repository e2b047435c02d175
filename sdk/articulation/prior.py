"""One motion-prior interface, two back ends.

A motion prior turns (rest geometry, part, prompt) into *articulated states*: point clouds of the whole
object with the part moved, which ATOP's axis search (``axis_search.atop_search``) consumes.

* ``PhysicsPrior`` (default, weight-free): physically scored hypotheses (collision sweep, attachment, free
  travel, prompt hints) -> states synthesized from the best hypothesis. See ``physics_prior``.
* ``DiffusionPrior``: ATOP's personalized multi-view motion model (ImageDream inflated for video, mask and
  camera control, §4.2) distilled into per-frame Gaussians with SDS (§4.3.1, Eq. 7): ``sdk.models.atop``.
  Constructing the prior checks for its weights and raises ``MissingWeightsError`` naming the files; the
  back end registers itself when ``sdk.models.atop.prior`` is imported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ArticulateError, MissingWeightsError
from .methods import PRIORS, available_priors  # noqa: F401 (re-exported)
from .physics_prior import (PhysicsConfig, PhysicsScene, Hypothesis, UP_VECTORS, score_hypotheses,
                            synthesize_states)
from .prompt import MotionHint


class NotAvailableError(ArticulateError, NotImplementedError):
    """A back end exists as an interface only; the message names what is needed."""


@dataclass
class PriorResult:
    states: list  # list of [K_s, 3] articulated object point clouds
    hypotheses: list = field(default_factory=list)  # scored hypotheses, best first (physics prior)
    source: str = "physics"


class MotionPrior:
    """Protocol: ``scene(part, body, up, physics=..., **dense) -> PhysicsScene`` (the collision scene every prior's
    joint limits are swept in) and ``propose(part_points [P,3], body_points [B,3], hint, up, scene) -> PriorResult``.
    Register a new prior with ``PRIORS.register(name, factory)``; ``available`` says whether it can run here
    (the CLI offers only available ones)."""

    name = "base"
    available = True

    def scene(self, part_points, body_points, up=None, *, physics: PhysicsConfig | None = None,
              **dense) -> PhysicsScene:
        return PhysicsScene(np.asarray(part_points, np.float64), np.asarray(body_points, np.float64),
                            physics or PhysicsConfig(), up, **dense)

    def propose(self, part_points: np.ndarray, body_points: np.ndarray, hint: MotionHint,
                up: np.ndarray | None = None, scene: PhysicsScene | None = None) -> PriorResult:
        """scene: the caller's physics scene of (part, body), when it has one (voxels, contact, OBB)."""
        raise NotImplementedError


class PhysicsPrior(MotionPrior):
    name = "physics"

    def __init__(self, config: PhysicsConfig | None = None):
        self.config = config or PhysicsConfig()

    def scene(self, part_points, body_points, up=None, *, physics: PhysicsConfig | None = None,
              **dense) -> PhysicsScene:
        """The scene with this prior's own physics config (``physics`` is the caller's default, unused here)."""
        return PhysicsScene(np.asarray(part_points, np.float64), np.asarray(body_points, np.float64), self.config, up,
                            **dense)

    def propose(self, part_points, body_points, hint, up=None, scene: PhysicsScene | None = None) -> PriorResult:
        scene = scene or self.scene(part_points, body_points, up)
        hyps = score_hypotheses(scene, hint)
        best = hyps[0]
        typical = None if best.type == "revolute" else float(scene.prismatic_max(best.axis[None])[0])
        states = synthesize_states(scene.part, scene.body, best, self.config.state_fractions[: self.config.n_states],
                                   typical)
        return PriorResult(states, hyps, "physics")


# Public checkpoint layout ATOP builds on: ImageDream (fp16) + the personalized motion module per category.
DIFFUSION_FILES = ("imagedream/sd-v2.1-base-4view-ipmv.pt", "atop/motion_module_{category}.safetensors")


_DIFFUSION_BACKEND: list = []  # factory(weights_dir, category) -> MotionPrior, registered by sdk.models.atop.prior


def register_diffusion_backend(factory) -> None:
    """Install the diffusion back end (``sdk.models.atop.prior`` does on import; articulation never imports
    the models package itself: it sits below it)."""
    _DIFFUSION_BACKEND[:] = [factory]


class DiffusionPrior(MotionPrior):
    """ATOP's personalized multi-view motion diffusion + SDS on Gaussians (§4.2-4.3).

    Checks the weight files first (``MissingWeightsError`` naming each), then delegates to the registered back end
    (``sdk.models.atop.prior.ATOPDiffusionBackend``)."""

    name = "diffusion"
    available = False  # the back end is an interface only (see the module docstring)

    def __init__(self, category: str = "StorageFurniture", weights_dir: str | Path | None = None):
        from ..config import settings
        self.category = category
        self.weights_dir = Path(weights_dir) if weights_dir else Path(settings.weights_dir)
        for f in DIFFUSION_FILES:
            f = f.format(category=category)
            if not (self.weights_dir / f).exists():
                raise MissingWeightsError("atop", f, str(self.weights_dir),
                                          hint="ATOP's prior needs the ImageDream base checkpoint and a personalized motion "
                                               "module fine-tuned per category (ATOP §4.2); `articulate models` lists "
                                               "them; use prior='physics' meanwhile")
        self._backend = None

    def propose(self, part_points, body_points, hint, up=None, scene=None) -> PriorResult:
        if self._backend is None:
            if not _DIFFUSION_BACKEND:
                raise NotAvailableError("the diffusion back end is not loaded: import sdk.models.atop.prior (the CLI "
                                        "does this for --prior diffusion)")
            self._backend = _DIFFUSION_BACKEND[0](self.weights_dir, self.category)
        return self._backend.propose(part_points, body_points, hint, up, scene=scene)


def get_prior(name: str | MotionPrior = "physics", **kw) -> MotionPrior:
    """A prior instance from its registered name (``methods.PRIORS``) or the instance itself."""
    if isinstance(name, MotionPrior):
        return name
    return PRIORS.get(name).build(**kw)


__all__ = ["MotionPrior", "PhysicsPrior", "DiffusionPrior", "PriorResult", "NotAvailableError", "get_prior",
           "register_diffusion_backend", "PRIORS", "available_priors", "Hypothesis", "UP_VECTORS"]
