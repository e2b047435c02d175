"""HexPlane / K-planes feature field over (x, y, z, t) (4DGaussians ``scene/hexplane.py``, Track4DGen Sec. 3.3).

Six planes (xy, xz, xt, yz, yt, zt) per scale; features are bilinearly sampled (``grid_sample``,
``align_corners=True``), **multiplied across the planes** and **concatenated across scales**. Time planes start at 1
(so the field is initially time-independent), spatial planes ~ U(0.1, 0.5). Space is normalised to [-1, 1] by the
axis-aligned ``bounds`` and time t in [0, 1] to [-1, 1]; coordinates outside are clamped to the border.
"""
from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PLANES = tuple(itertools.combinations(range(4), 2))  # (0,1) xy, (0,2) xz, (0,3) xt, (1,2) yz, (1,3) yt, (2,3) zt


def sample_plane(plane: Tensor, coords: Tensor) -> Tensor:
    """plane: [C, H, W] (H indexes the second coordinate, W the first); coords: [P, 2] in [-1, 1] -> [P, C]"""
    out = F.grid_sample(plane[None], coords[None, :, None, :], mode="bilinear", padding_mode="border",
                        align_corners=True)  # [1, C, P, 1]
    return out[0, :, :, 0].T


class HexPlaneField(nn.Module):
    def __init__(self, bounds: Tensor, spatial_resolution: int = 64, temporal_resolution: int = 8,
                 feature_dim: int = 16, multires: tuple[int, ...] = (1, 2), spatial_init=(0.1, 0.5)):
        """bounds: [2, 3] (min, max corner) of the space the field covers; spatial planes ~ U(spatial_init)
        (4DGaussians: U(0.1, 0.5))."""
        super().__init__()
        self.register_buffer("bounds", torch.as_tensor(bounds, dtype=torch.float32).reshape(2, 3).clone())
        self.feature_dim = feature_dim
        self.multires = tuple(multires)
        self.grids = nn.ModuleList()
        for m in self.multires:
            res = [spatial_resolution * m] * 3 + [temporal_resolution]
            planes = nn.ParameterList()
            for a, b in PLANES:
                p = torch.empty(feature_dim, res[b], res[a])
                if b == 3:
                    nn.init.ones_(p)
                else:
                    nn.init.uniform_(p, float(spatial_init[0]), float(spatial_init[1]))
                planes.append(nn.Parameter(p))
            self.grids.append(planes)

    @property
    def out_dim(self) -> int:
        return self.feature_dim * len(self.multires)

    def normalise(self, points: Tensor, t: Tensor) -> Tensor:
        """points [P, 3], t [P] or scalar in [0, 1] -> [P, 4] in [-1, 1]"""
        lo, hi = self.bounds[0], self.bounds[1]
        xyz = (points - lo) / (hi - lo).clamp_min(1e-9) * 2 - 1
        tt = torch.as_tensor(t, dtype=points.dtype, device=points.device).expand(points.shape[0]) * 2 - 1
        return torch.cat([xyz, tt[:, None]], -1).clamp(-1, 1)

    def forward(self, points: Tensor, t) -> Tensor:
        """points [P, 3], t scalar or [P] -> features [P, out_dim]"""
        x = self.normalise(points, t)
        feats = []
        for planes in self.grids:
            f = 1.0
            for (a, b), p in zip(PLANES, planes):
                f = f * sample_plane(p, x[:, [a, b]])
            feats.append(f)
        return torch.cat(feats, -1)

    @torch.no_grad()
    def carry_time_forward(self, t_from: float) -> None:
        """Copy the time planes' values at normalised time ``t_from`` to every time node after it, so the field at
        any later time starts as the field at ``t_from`` (SDK: used by progressive fitting when a frame is added --
        the new frame starts from the previous frame's pose instead of the canonical pose)."""
        for planes in self.grids:
            for (a, b), p in zip(PLANES, planes):
                if b != 3:
                    continue
                r = p.shape[1]  # [C, R_t, R_a]: rows index time (align_corners=True: node j at t = j / (R_t - 1))
                s = min(max(float(t_from), 0.0), 1.0) * (r - 1)
                lo = int(s)
                if lo >= r - 1:
                    continue
                w = s - lo
                value = (1 - w) * p[:, lo] + w * p[:, lo + 1]  # [C, R_a]
                p[:, lo + 1:] = value[:, None]

    def regularisers(self) -> tuple[Tensor, Tensor, Tensor]:
        """4DGaussians' plane regularisers (``hexplane.py`` / ``regulation.py``), summed over scales:
        (spatial TV: mean squared first differences of the xy/xz/yz planes along both axes,
         time smoothness: mean squared second differences of the xt/yt/zt planes along time,
         time L1: mean |1 - p| of the time planes, which start at 1 = no motion)."""
        tv = sm = l1 = 0.0
        for planes in self.grids:
            for (a, b), p in zip(PLANES, planes):  # p [C, R_b, R_a]
                if b == 3:
                    d2 = p[:, 2:] - 2 * p[:, 1:-1] + p[:, :-2] if p.shape[1] > 2 else p[:, :0]
                    sm = sm + (d2.square().mean() if d2.numel() else 0.0)
                    l1 = l1 + (1 - p).abs().mean()
                else:
                    tv = tv + (p[:, 1:] - p[:, :-1]).square().mean() + (p[:, :, 1:] - p[:, :, :-1]).square().mean()
        z = torch.zeros((), device=self.bounds.device)
        return z + tv, z + sm, z + l1

    def plane_parameters(self):
        return [p for planes in self.grids for p in planes]
