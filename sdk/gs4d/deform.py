"""The deformation decoder phi (Track4DGen Eq. 7; 4DGaussians ``scene/deformation.py``): HexPlane features (optionally
concatenated with diffusion features, Eq. 6) -> a shared layer -> three lightweight heads for delta position, delta
rotation (added to the quaternion) and delta log-scale. Opacity and colour are not deformed.

The heads' last layers start near zero (uniform +-``init_scale``, SDK value 1e-4), so the field starts as (nearly)
the identity (canonical = frame 0). Exactly zero would block every gradient to the planes and hidden layers until
the last layer has grown (at the paper's MLP rate 1e-4 that takes hundreds of steps); with Adam's normalised updates
a tiny non-zero layer lets the planes learn at full rate from the first step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .hexplane import HexPlaneField


@dataclass
class Deltas:
    position: Tensor  # [P, 3]
    rotation: Tensor  # [P, 4] added to the wxyz quaternion
    log_scale: Tensor  # [P, 3] added to log(scale)


def _head(width: int, out: int, init_scale: float) -> nn.Sequential:
    h = nn.Sequential(nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, out))
    nn.init.uniform_(h[-1].weight, -init_scale, init_scale)
    nn.init.zeros_(h[-1].bias)
    return h


class DeformationField(nn.Module):
    def __init__(self, bounds: Tensor, spatial_resolution: int = 64, temporal_resolution: int = 8,
                 feature_dim: int = 16, multires=(1, 2), width: int = 64, extra_dim: int = 0,
                 init_scale: float = 1e-4, anchor_time: float | None = None, spatial_init=(0.1, 0.5)):
        super().__init__()
        self.anchor_time = anchor_time
        self.grid = HexPlaneField(bounds, spatial_resolution, temporal_resolution, feature_dim, multires,
                                  spatial_init)
        self.extra_dim = extra_dim
        self.feature_out = nn.Linear(self.grid.out_dim + extra_dim, width)
        self.pos = _head(width, 3, init_scale)
        self.rot = _head(width, 4, init_scale)
        self.scale = _head(width, 3, init_scale)

    def forward(self, points: Tensor, t, extra: Tensor | None = None) -> Deltas:
        """points [P, 3], t scalar or [P], extra [P, extra_dim] (diffusion features) -> Deltas.
        With ``anchor_time`` set, the deltas are differences to the deltas at that time, so the canonical frame is
        exactly undeformed and no time-constant offset can be learned (SDK choice, see docs/gaussians.md)."""
        d = self._raw(points, t, extra)
        if self.anchor_time is None:
            return d
        a = self._raw(points, self.anchor_time, extra)
        return Deltas(d.position - a.position, d.rotation - a.rotation, d.log_scale - a.log_scale)

    def _raw(self, points: Tensor, t, extra: Tensor | None) -> Deltas:
        f = self.grid(points, t)
        if self.extra_dim:
            if extra is None or extra.shape != (points.shape[0], self.extra_dim):
                raise ValueError(f"extra features must be [{points.shape[0]}, {self.extra_dim}]")
            f = torch.cat([f, extra], -1)
        h = self.feature_out(f)
        return Deltas(self.pos(h), self.rot(h), self.scale(h))

    def query(self, points: Tensor, t) -> Tensor:
        """Deformed positions phi(x, t) = x + delta x.  points [P, 3] -> [P, 3]"""
        return points + self.forward(points, t).position

    def mlp_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith("grid.")]
