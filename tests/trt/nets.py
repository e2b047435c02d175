"""Small test networks shaped like the diffusion denoisers: conv + GroupNorm + attention + timestep embedding.

Defined in the tests (not the package) so the compile machinery is tested independently of sdk.models.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    # t: [B] float
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1).to(t.dtype if t.is_floating_point() else
                                                                       torch.float32)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, c_emb: int):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(4, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(c_emb, c_out)
        self.n2, self.c2 = nn.GroupNorm(4, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, emb):
        h = self.c1(F.silu(self.n1(x))) + self.emb(F.silu(emb))[:, :, None, None]
        return self.skip(x) + self.c2(F.silu(self.n2(h)))


class Attn(nn.Module):
    """Self-attention over pixels plus cross-attention to a context sequence."""

    def __init__(self, c: int, c_ctx: int, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(4, c)
        self.qkv = nn.Linear(c, 3 * c)
        self.q2, self.kv2 = nn.Linear(c, c), nn.Linear(c_ctx, 2 * c)
        self.out = nn.Linear(c, c)

    def _sdpa(self, q, k, v):
        B, N, C = q.shape
        sh = lambda a: a.reshape(B, a.shape[1], self.heads, C // self.heads).transpose(1, 2)  # noqa: E731
        o = F.scaled_dot_product_attention(sh(q), sh(k), sh(v))
        return o.transpose(1, 2).reshape(B, N, C)

    def forward(self, x, ctx):
        B, C, H, W = x.shape
        s = self.norm(x).flatten(2).transpose(1, 2)  # [B, HW, C]
        q, k, v = self.qkv(s).chunk(3, dim=-1)
        s = s + self._sdpa(q, k, v)
        k2, v2 = self.kv2(ctx).chunk(2, dim=-1)
        s = s + self._sdpa(self.q2(s), k2, v2)
        return x + self.out(s).transpose(1, 2).reshape(B, C, H, W)


class TinyUNet(nn.Module):
    """x: [B, C, H, W] noisy latent, t: [B] timestep, ctx: [B, L, D] conditioning -> [B, C, H, W]."""

    def __init__(self, c_in: int = 4, ch: int = 16, c_ctx: int = 8, two_outputs: bool = False):
        super().__init__()
        self.ch, self.two_outputs = ch, two_outputs
        self.t_mlp = nn.Sequential(nn.Linear(ch, 2 * ch), nn.SiLU(), nn.Linear(2 * ch, 2 * ch))
        self.inp = nn.Conv2d(c_in, ch, 3, padding=1)
        self.d1 = ResBlock(ch, ch, 2 * ch)
        self.down = nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1)
        self.d2 = ResBlock(2 * ch, 2 * ch, 2 * ch)
        self.mid = Attn(2 * ch, c_ctx)
        self.up = nn.ConvTranspose2d(2 * ch, ch, 4, stride=2, padding=1)
        self.u1 = ResBlock(2 * ch, ch, 2 * ch)
        self.out = nn.Sequential(nn.GroupNorm(4, ch), nn.SiLU(), nn.Conv2d(ch, c_in, 3, padding=1))
        self.aux = nn.Conv2d(ch, 1, 1) if two_outputs else None

    def forward(self, x, t, ctx):
        emb = self.t_mlp(timestep_embedding(t, self.ch).to(x.dtype))
        h0 = self.d1(self.inp(x), emb)
        h = self.mid(self.d2(self.down(h0), emb), ctx)
        h = self.u1(torch.cat([self.up(h), h0], dim=1), emb)
        y = self.out(h)
        return (y, self.aux(h)) if self.two_outputs else y


def make_net(seed: int = 0, **kw) -> TinyUNet:
    torch.manual_seed(seed)
    net = TinyUNet(**kw).eval()
    # non-trivial norms/biases so parity is not tested on default (identity) parameters
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


def make_inputs(batch: int = 2, hw: int = 8, c_in: int = 4, c_ctx: int = 8, seq: int = 5, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return {"x": torch.randn(batch, c_in, hw, hw, generator=g),
            "t": torch.rand(batch, generator=g) * 1000,
            "ctx": torch.randn(batch, seq, c_ctx, generator=g)}
