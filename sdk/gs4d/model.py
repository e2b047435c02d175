"""A 4D Gaussian model: canonical Gaussians + a deformation field + 4D SH (Track4DGen Eq. 9).

G_4D(t) = {X + dX, C_4D(t), alpha, r + dr, s + ds}; parameters are stored unconstrained (log-scales, opacity logits).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ..core.gaussians import SH_C0, GaussianCloud, GaussianSequence
from .deform import DeformationField
from .sh4d import sh_at_time


def _logit(x: Tensor) -> Tensor:
    x = x.clamp(1e-4, 1 - 1e-4)
    return torch.log(x / (1 - x))


class Gaussians4D(nn.Module):
    def __init__(self, cloud: GaussianCloud, bounds: Tensor | None = None, *, sh_degree: int = 3,
                 time_basis: int = 4, spatial_resolution: int = 64, temporal_resolution: int = 8,
                 feature_dim: int = 16, multires=(1, 2), width: int = 64, extra_dim: int = 0,
                 bounds_margin: float = 0.5, anchor_time: float | None = None):
        super().__init__()
        means = torch.as_tensor(cloud.means, dtype=torch.float32)
        if bounds is None:
            lo, hi = means.min(0).values, means.max(0).values
            pad = (hi - lo).max() * bounds_margin
            bounds = torch.stack([lo - pad, hi + pad])
        self.means = nn.Parameter(means.clone())
        self.quats = nn.Parameter(torch.as_tensor(cloud.quats, dtype=torch.float32).clone())
        self.log_scales = nn.Parameter(torch.log(torch.as_tensor(cloud.scales, dtype=torch.float32).clamp_min(1e-6)))
        self.opacity_logits = nn.Parameter(_logit(torch.as_tensor(cloud.opacities, dtype=torch.float32)))
        k = (sh_degree + 1) ** 2
        sh = torch.zeros(cloud.n, k, 3, time_basis)
        src = torch.as_tensor(cloud.sh, dtype=torch.float32)
        kk = min(k, src.shape[1])
        sh[:, :kk, :, 0] = src[:, :kk]
        self.sh = nn.Parameter(sh)
        self.sh_degree = sh_degree
        self.time_basis = time_basis
        self.field = DeformationField(bounds, spatial_resolution, temporal_resolution, feature_dim, multires, width,
                                      extra_dim, anchor_time=anchor_time)

    @property
    def n(self) -> int:
        return self.means.shape[0]

    def at(self, t: float, extra: Tensor | None = None, deform: bool = True):
        """Deformed Gaussians at normalised time t -> (means, quats, scales, opacities, sh [N, K, 3])"""
        if deform:
            d = self.field(self.means, t, extra)
            means, quats, log_s = self.means + d.position, self.quats + d.rotation, self.log_scales + d.log_scale
        else:
            means, quats, log_s = self.means, self.quats, self.log_scales
        sh = sh_at_time(self.sh, t)[0]
        return means, quats, torch.exp(log_s), torch.sigmoid(self.opacity_logits), sh

    def at_times(self, times, deform: bool = True):
        """Batched ``at`` over F times (one field evaluation) -> means/quats/scales [F, N, ...], opacities [N],
        sh [F, N, K, 3]"""
        tt = torch.as_tensor(list(times), dtype=self.means.dtype, device=self.means.device)
        f, n = tt.shape[0], self.n
        if deform:
            pts = self.means[None].expand(f, n, 3).reshape(-1, 3)
            d = self.field(pts, tt.repeat_interleave(n))
            means = self.means[None] + d.position.reshape(f, n, 3)
            quats = self.quats[None] + d.rotation.reshape(f, n, 4)
            scales = torch.exp(self.log_scales[None] + d.log_scale.reshape(f, n, 3))
        else:
            means = self.means[None].expand(f, n, 3)
            quats = self.quats[None].expand(f, n, 4)
            scales = torch.exp(self.log_scales)[None].expand(f, n, 3)
        return means, quats, scales, torch.sigmoid(self.opacity_logits), sh_at_time(self.sh, tt)

    @torch.no_grad()
    def trajectories(self, count: int, times) -> Tensor:
        """Positions of the first ``count`` Gaussians (the canonical mesh's vertices, by construction of
        ``canonical_from_mesh``) at the given times: mu_i + dx(mu_i, t) with the *learned* canonical means
        -> [T, count, 3]. This is what the model renders, whatever gauge the canonical means drifted into."""
        x = self.means[:count]
        return torch.stack([x + self.field(x, float(t)).position for t in times])

    def canonical_parameters(self):
        return dict(means=self.means, quats=self.quats, log_scales=self.log_scales,
                    opacity_logits=self.opacity_logits, sh=self.sh)

    @torch.no_grad()
    def to_sequence(self, times, fps: float = 30.0, name: str = "gaussians4d") -> GaussianSequence:
        """Bake the model at the given normalised times into a GaussianSequence (per-frame SH when time_basis > 1)."""
        ms, qs, ss, shs = [], [], [], []
        for t in times:
            m, q, s, o, sh = self.at(float(t))
            ms.append(m.cpu().numpy())
            qs.append(torch.nn.functional.normalize(q, dim=-1).cpu().numpy())
            ss.append(s.cpu().numpy())
            shs.append(sh.cpu().numpy())
        op = torch.sigmoid(self.opacity_logits).cpu().numpy()
        sh = np.stack(shs) if self.time_basis > 1 else shs[0]
        return GaussianSequence(np.stack(ms), np.stack(qs), np.stack(ss), op, sh, fps=fps, name=name)

    @staticmethod
    def rgb_to_sh_dc(rgb: Tensor) -> Tensor:
        return (rgb - 0.5) / SH_C0
