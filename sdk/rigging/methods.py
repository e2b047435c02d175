"""Skinning methods: a small protocol + registry (add a method = one function + one ``SKINNING.register`` line).

A method takes the welded, labelled mesh and the skeleton built from its parts and returns per-*part* weights
``[W, P]`` (columns of parts without a joint are ignored); ``rig_from_parts`` picks joint columns, applies the
engine budget and maps the weights back to the original vertices.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from ..core import Skeleton
from ..util.progress import ProgressFn
from ..util.registry import Registry


@dataclass
class SkinningInput:
    vertices: np.ndarray     # [W, 3] welded vertices
    faces: np.ndarray        # [F, 3] welded faces
    labels: np.ndarray       # [W] part id per welded vertex (-1: none)
    n_parts: int
    skeleton: Skeleton       # one joint per part
    joint_parts: np.ndarray  # [J] part driven by each joint
    contacts: object         # sdk.rigging.contacts.Contacts of the labelled mesh


class SkinningFn(Protocol):
    def __call__(self, inp: SkinningInput, config, progress: ProgressFn | None) -> np.ndarray:  # -> [W, P]
        ...


@dataclass(frozen=True)
class SkinningMethod:
    name: str
    weights: SkinningFn
    config: Callable  # (blend or None: the method's own default) -> the method's config dataclass
    uses_blend: bool = False  # the harmonic transition band (rig_from_parts' ``blend``) applies
    description: str = ""


SKINNING: Registry[SkinningMethod] = Registry("skinning method", "method")

# The method used when none is named (facade, CLI, server, batch): the best on the held-out skinning evaluation
# (`articulate evaluate skinning`; docs/rigging.md): "pairwise" beats the hard indicator on every asset, the SP4D
# harmonic band does not (Fox, the Quaternius animals).
DEFAULT_METHOD = "pairwise"


def _harmonic(inp: SkinningInput, config, progress):
    from .harmonic import harmonic_weights
    return harmonic_weights(inp.vertices, inp.faces, inp.labels, inp.n_parts, config, progress=progress,
                            contacts=inp.contacts)


def _heat(inp: SkinningInput, config, progress):
    from .heat import heat_weights
    Wj = heat_weights(inp.vertices, inp.faces, inp.skeleton, inp.joint_parts, inp.labels, config=config,
                      progress=progress)
    Wp = np.zeros_like(Wj)
    Wp[:, inp.joint_parts] = Wj
    return Wp


def _pairwise(inp: SkinningInput, config, progress):
    from .pairwise import pairwise_weights
    return pairwise_weights(inp.vertices, inp.faces, inp.labels, inp.n_parts, inp.skeleton, inp.joint_parts,
                            inp.contacts, config, progress)


def _harmonic_config(blend: float | None):
    from .harmonic import HarmonicConfig
    return HarmonicConfig() if blend is None else HarmonicConfig(blend=blend)


def _pairwise_config(blend: float | None):
    from .pairwise import PairwiseConfig
    return PairwiseConfig() if blend is None else PairwiseConfig(blend=blend)


def _heat_config(blend: float | None):
    from .heat import HeatConfig
    return HeatConfig()


SKINNING.register("harmonic", SkinningMethod("harmonic", _harmonic, _harmonic_config, True,
                                             "SP4D §3.4: Laplace with part-indicator Dirichlet data outside a blend band"))
SKINNING.register("pairwise", SkinningMethod("pairwise", _pairwise, _pairwise_config, True,
                                             "one boundary-value problem per skeleton joint: blends only a part "
                                             "with its skeleton neighbours, across their boundary loop"))
SKINNING.register("heat", SkinningMethod("heat", _heat, _heat_config, False, "Pinocchio bone heat with visibility"))
