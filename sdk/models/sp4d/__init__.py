"""SP4D (Stable Part Diffusion 4D): dual-branch multi-view video diffusion of RGB and kinematic parts.

Modules: ``unet`` (SV4D 2.0-style branch x2 + BiDiFuse), ``colour_encoding`` (spatial colour encoding
of parts), ``losses`` (EDM L2, contrastive part consistency), ``sampler`` (EDM preconditioning and
sampler), ``backmap`` (generated colours -> discrete part maps), ``lifting`` (part maps -> per-vertex
part ids), ``checkpoint`` (sgm state dicts -> our modules), ``train`` (two-stage training), ``model``
(the packaged small model used by ``articulate parts``).
"""
from .unet import SP4DConfig, SP4DUNet, SV4DUNet, BiDiFuse

__all__ = ["SP4DConfig", "SP4DUNet", "SV4DUNet", "BiDiFuse"]
