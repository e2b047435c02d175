"""ATOP's controllable part-motion module (§4.2.3), the only part trained during personalization (§4.2.5).

Three pieces, applied in this order on the features ``z: [B*Nv*Nf, C, h, w]`` after a spatial transformer:

1. ``SparseFirstFrameAttention`` — "a new sparse spatio-temporal attention block that transfers the appearance
   information from the first frame ... to other frames": per view, the tokens of frame i attend to the tokens of
   frame 1 and of frame i itself (2·h·w keys instead of Nf·h·w: sparse).
2. ``MaskFiLM`` — the adaptive affine transform ``Z' = γ ⊙ Z + β`` with ``γ = f(B)``, ``β = g(B)``, f and g
   two-layer MLPs on the first-frame binary part mask B of each view, resized to the feature resolution (a
   per-pixel MLP = two 1x1 convolutions). Ours (not the paper's): γ = 1 + f(B) with f, g's last layers zero, so
   the module starts as the identity; the mask is area-resized (soft at part borders).
3. ``FirstFrameTemporalAttention`` — Eq. 4, ``Z = Attn(Q_i, K_1, V_1)``: queries from frame i, keys and values
   from frame 1, "applied across all views" (Fig. 4): the tokens of frame i of all Nv views attend to the tokens
   of frame 1 of all views. The text's "between the first and the last frame" contradicts Eq. 4; Eq. 4 is
   followed.

Both attentions are residual with a zero-initialized output projection (ours), so the whole module is the
identity at initialization and personalization starts from the frozen multi-view model.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def _attention(dim: int, heads: int) -> nn.Module:
    from diffusers.models.attention_processor import Attention
    a = Attention(query_dim=dim, heads=heads, dim_head=dim // heads, bias=False)
    nn.init.zeros_(a.to_out[0].weight)  # residual branch off at init: identity
    nn.init.zeros_(a.to_out[0].bias)
    return a


class SparseFirstFrameAttention(nn.Module):
    """Per view: frame i's tokens attend to [frame 1 tokens, frame i tokens]. Residual; identity at init."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = _attention(dim, heads)

    def forward(self, x: Tensor, num_views: int, num_frames: int) -> Tensor:
        # x: [B*Nv*Nf, L, C] -> same
        BVF, L, C = x.shape
        h = self.norm(x).view(BVF // num_frames, num_frames, L, C)  # [B*Nv, Nf, L, C]
        first = h[:, :1].expand(-1, num_frames, -1, -1)
        kv = torch.cat([first, h], dim=2).reshape(BVF, 2 * L, C)  # [B*Nv*Nf, 2L, C]
        return x + self.attn(h.reshape(BVF, L, C), encoder_hidden_states=kv)


class MaskFiLM(nn.Module):
    """``Z' = γ ⊙ Z + β``, γ = 1 + f(B), β = g(B); f, g two-layer per-pixel MLPs on the first-frame mask."""

    def __init__(self, channels: int, hidden: int = 64):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(1, hidden, 1), nn.SiLU(), nn.Conv2d(hidden, channels, 1))
        self.g = nn.Sequential(nn.Conv2d(1, hidden, 1), nn.SiLU(), nn.Conv2d(hidden, channels, 1))
        for m in (self.f[2], self.g[2]):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def gamma_beta(self, mask: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """mask: [B, Nv, 1, H, W] first-frame part masks -> γ, β: [B*Nv, C, h, w]."""
        B, Nv = mask.shape[:2]
        m = F.adaptive_avg_pool2d(mask.reshape(B * Nv, 1, *mask.shape[-2:]).float(), size) \
            if mask.shape[-2] >= size[0] else F.interpolate(mask.reshape(B * Nv, 1, *mask.shape[-2:]).float(), size)
        return 1.0 + self.f(m), self.g(m)

    def forward(self, z: Tensor, mask: Tensor, num_frames: int) -> Tensor:
        # z: [B*Nv*Nf, C, h, w]; mask: [B, Nv, 1, H, W]; the first-frame mask modulates every frame of its view
        gamma, beta = self.gamma_beta(mask, z.shape[-2:])
        BV, C, h, w = gamma.shape
        z = z.view(BV, num_frames, C, h, w)
        return (gamma[:, None] * z + beta[:, None]).view(BV * num_frames, C, h, w)


class FirstFrameTemporalAttention(nn.Module):
    """Eq. 4: frame i of all views (queries) attends to frame 1 of all views (keys, values). Residual."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attn = _attention(dim, heads)

    def forward(self, x: Tensor, num_views: int, num_frames: int) -> Tensor:
        # x: [B*Nv*Nf, L, C] ordered (b, v, f)
        BVF, L, C = x.shape
        B = BVF // (num_views * num_frames)
        h = self.norm(x).view(B, num_views, num_frames, L, C).permute(0, 2, 1, 3, 4)  # [B, Nf, Nv, L, C]
        q = h.reshape(B * num_frames, num_views * L, C)
        kv = h[:, :1].expand(-1, num_frames, -1, -1, -1).reshape(B * num_frames, num_views * L, C)
        out = self.attn(q, encoder_hidden_states=kv)  # [B*Nf, Nv*L, C]
        out = out.view(B, num_frames, num_views, L, C).permute(0, 2, 1, 3, 4).reshape(BVF, L, C)
        return x + out


class MotionModule(nn.Module):
    """Sparse first-frame attention -> mask FiLM -> Eq. 4 first-frame temporal attention, on [B*Nv*Nf, C, h, w]."""

    def __init__(self, channels: int, heads: int, film_hidden: int = 64):
        super().__init__()
        self.sparse = SparseFirstFrameAttention(channels, heads)
        self.film = MaskFiLM(channels, film_hidden)
        self.temporal = FirstFrameTemporalAttention(channels, heads)

    def forward(self, z: Tensor, mask: Tensor | None, num_views: int, num_frames: int) -> Tensor:
        BVF, C, h, w = z.shape
        t = z.flatten(2).transpose(1, 2)  # [BVF, hw, C]
        t = self.sparse(t, num_views, num_frames)
        z = t.transpose(1, 2).reshape(BVF, C, h, w)
        if mask is not None:
            z = self.film(z, mask, num_frames)
        t = z.flatten(2).transpose(1, 2)
        t = self.temporal(t, num_views, num_frames)
        return t.transpose(1, 2).reshape(BVF, C, h, w)
