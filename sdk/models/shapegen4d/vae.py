"""VecSet shape VAE in the Step1X-3D / Michelangelo layout (ShapeGen4D §3.1 builds on Step1X-3D's VAE).

Fourier embedding (8 frequencies, no pi, input included: 51 dims) + normals -> ``input_proj``; the encoder's query
tokens are the projected input points at farthest-point-sampled indices (pure-torch FPS; the public code needs
torch_cluster) or, for ShapeGen4D's temporally aligned latents, *given* query points (frame-1 surface points carried by
the animation); optional sharp-edge branch (half the queries, own projection and cross-attention, summed); a
``Perceiver`` of self-attention blocks; KL bottleneck ``pre_kl`` -> [L, embed_dim] (logvar clamped to [-30, 20]);
``post_kl`` + ``transformer`` (Perceiver) + perceiver decoder (``query_proj``, ``cross_attn_decoder``, ``ln_post``,
``output_proj``) -> TSDF at arbitrary points.

Parameter names follow the public checkpoint (``encoder.input_proj``, ``encoder.cross_attn.attn.c_q`` ...,
``transformer.resblocks.3.mlp.c_fc``). The fused ``c_qkv`` / ``c_kv`` are split per head (Michelangelo's
``QKVMultiheadAttention``: view ``[B, N, heads, 3 * head_dim]`` then split), which a converted checkpoint must match.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


@dataclass
class VAEConfig:
    width: int = 768
    heads: int = 12
    num_encoder_layers: int = 8
    num_decoder_layers: int = 16
    embed_dim: int = 64  # latent channels
    num_latents: int = 1024  # ShapeGen4D: 1024 latents per frame (§5.1); Step1X-3D's diffusion config uses 2048
    num_freqs: int = 8
    include_pi: bool = False
    point_feats: int = 3  # normals
    with_sharp_data: bool = True
    qkv_bias: bool = False
    use_ln_post: bool = True
    out_dim: int = 1

    @staticmethod
    def tiny() -> "VAEConfig":
        return VAEConfig(width=64, heads=4, num_encoder_layers=1, num_decoder_layers=2, embed_dim=8, num_latents=32)


class FourierEmbedder(nn.Module):
    def __init__(self, num_freqs: int = 8, include_pi: bool = False, input_dim: int = 3):
        super().__init__()
        f = 2.0 ** torch.arange(num_freqs, dtype=torch.float32)
        self.register_buffer("frequencies", f * math.pi if include_pi else f, persistent=False)
        self.out_dim = input_dim * (2 * num_freqs + 1)

    def forward(self, x: Tensor) -> Tensor:  # [..., 3] -> [..., 3 (2F + 1)]
        e = (x[..., None] * self.frequencies).reshape(*x.shape[:-1], -1)
        return torch.cat([x, e.sin(), e.cos()], -1)


def _split_heads(x: Tensor, heads: int, parts: int):  # [B, N, parts*W] -> parts x [B, H, N, W/H]
    b, n, _ = x.shape
    x = x.view(b, n, heads, -1)
    return [t.transpose(1, 2) for t in torch.split(x, x.shape[-1] // parts, dim=-1)]


class _MLP(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.c_fc, self.c_proj = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class _SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, bias: bool):
        super().__init__()
        self.heads = heads
        self.c_qkv, self.c_proj = nn.Linear(width, 3 * width, bias=bias), nn.Linear(width, width)

    def forward(self, x):
        q, k, v = _split_heads(self.c_qkv(x), self.heads, 3)
        o = F.scaled_dot_product_attention(q, k, v)
        return self.c_proj(o.transpose(1, 2).reshape(x.shape))


class _CrossAttention(nn.Module):
    def __init__(self, width: int, heads: int, bias: bool):
        super().__init__()
        self.heads = heads
        self.c_q = nn.Linear(width, width, bias=bias)
        self.c_kv = nn.Linear(width, 2 * width, bias=bias)
        self.c_proj = nn.Linear(width, width)

    def forward(self, x, data):
        (q,) = _split_heads(self.c_q(x), self.heads, 1)
        k, v = _split_heads(self.c_kv(data), self.heads, 2)
        o = F.scaled_dot_product_attention(q, k, v)
        return self.c_proj(o.transpose(1, 2).reshape(x.shape))


class ResidualAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, bias: bool):
        super().__init__()
        self.ln_1, self.attn = nn.LayerNorm(width), _SelfAttention(width, heads, bias)
        self.ln_2, self.mlp = nn.LayerNorm(width), _MLP(width)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class ResidualCrossAttentionBlock(nn.Module):
    def __init__(self, width: int, heads: int, bias: bool):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = _CrossAttention(width, heads, bias)
        self.ln_3, self.mlp = nn.LayerNorm(width), _MLP(width)

    def forward(self, x, data):
        x = x + self.attn(self.ln_1(x), self.ln_2(data))
        return x + self.mlp(self.ln_3(x))


class Perceiver(nn.Module):
    def __init__(self, width: int, heads: int, layers: int, bias: bool):
        super().__init__()
        self.resblocks = nn.ModuleList(ResidualAttentionBlock(width, heads, bias) for _ in range(layers))

    def forward(self, x):
        for b in self.resblocks:
            x = b(x)
        return x


def farthest_point_sampling(x: Tensor, m: int, start: int = 0) -> Tensor:
    """Indices [B, m] of ``m`` farthest points of ``x [B, N, 3]`` (pure torch, deterministic start)."""
    B, N, _ = x.shape
    idx = torch.zeros(B, m, dtype=torch.long, device=x.device)
    dist = torch.full((B, N), float("inf"), device=x.device, dtype=x.dtype)
    cur = torch.full((B,), start, dtype=torch.long, device=x.device)
    ar = torch.arange(B, device=x.device)
    for i in range(m):
        idx[:, i] = cur
        d = ((x - x[ar, cur][:, None]) ** 2).sum(-1)
        dist = torch.minimum(dist, d)
        cur = dist.argmax(1)
    return idx


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig, embedder: FourierEmbedder):
        super().__init__()
        self.cfg, self.embedder = cfg, embedder
        d_in = embedder.out_dim + cfg.point_feats
        self.input_proj = nn.Linear(d_in, cfg.width)
        self.cross_attn = ResidualCrossAttentionBlock(cfg.width, cfg.heads, cfg.qkv_bias)
        if cfg.with_sharp_data:
            self.input_proj_sharp = nn.Linear(d_in, cfg.width)
            self.cross_attn_sharp = ResidualCrossAttentionBlock(cfg.width, cfg.heads, cfg.qkv_bias)
        self.self_attn = Perceiver(cfg.width, cfg.heads, cfg.num_encoder_layers, cfg.qkv_bias)
        self.ln_post = nn.LayerNorm(cfg.width) if cfg.use_ln_post else None

    def _proj(self, pts: Tensor, proj: nn.Linear) -> Tensor:  # [B, N, 3 + C] -> [B, N, W]
        return proj(torch.cat([self.embedder(pts[..., :3]), pts[..., 3:]], -1))

    def forward(self, surface: Tensor, queries: Tensor | None = None, sharp: Tensor | None = None,
                sharp_queries: Tensor | None = None) -> Tensor:
        """surface [B, N, 3+C]; queries [B, M, 3+C] (given, e.g. temporally aligned) or None (FPS of the surface);
        sharp: [B, N', 3+C] sharp-edge samples (their queries FPS'd or given) -> latents [B, L, W]."""
        cfg = self.cfg
        n_q = cfg.num_latents // 2 if cfg.with_sharp_data else cfg.num_latents
        data = self._proj(surface, self.input_proj)
        if queries is None:
            idx = farthest_point_sampling(surface[..., :3], n_q)
            q = torch.gather(data, 1, idx[..., None].expand(-1, -1, data.shape[-1]))
        else:
            q = self._proj(queries, self.input_proj)
        if cfg.with_sharp_data:
            sharp = surface if sharp is None else sharp
            sdata = self._proj(sharp, self.input_proj_sharp)
            if sharp_queries is None and queries is None:
                idx = farthest_point_sampling(sharp[..., :3], n_q)
                sq = torch.gather(sdata, 1, idx[..., None].expand(-1, -1, sdata.shape[-1]))
            else:
                sq = self._proj(sharp_queries if sharp_queries is not None else queries, self.input_proj_sharp)
            q = torch.cat([q, sq], 1)
            lat = self.cross_attn(q, data) + self.cross_attn_sharp(q, sdata)
        else:
            lat = self.cross_attn(q, data)
        lat = self.self_attn(lat)
        return self.ln_post(lat) if self.ln_post is not None else lat


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig, embedder: FourierEmbedder):
        super().__init__()
        self.embedder = embedder
        self.query_proj = nn.Linear(embedder.out_dim, cfg.width)
        self.cross_attn_decoder = ResidualCrossAttentionBlock(cfg.width, cfg.heads, cfg.qkv_bias)
        self.ln_post = nn.LayerNorm(cfg.width)
        self.output_proj = nn.Linear(cfg.width, cfg.out_dim)

    def forward(self, xyz: Tensor, feats: Tensor) -> Tensor:  # xyz [B, P, 3], feats [B, L, W] -> [B, P]
        x = self.cross_attn_decoder(self.query_proj(self.embedder(xyz)), feats)
        return self.output_proj(self.ln_post(x))[..., 0]


class VecSetVAE(nn.Module):
    def __init__(self, cfg: VAEConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or VAEConfig()
        self.embedder = FourierEmbedder(cfg.num_freqs, cfg.include_pi)
        self.encoder = Encoder(cfg, self.embedder)
        self.pre_kl = nn.Linear(cfg.width, 2 * cfg.embed_dim)
        self.post_kl = nn.Linear(cfg.embed_dim, cfg.width)
        self.transformer = Perceiver(cfg.width, cfg.heads, cfg.num_decoder_layers, cfg.qkv_bias)
        self.decoder = Decoder(cfg, self.embedder)

    def encode(self, surface: Tensor, queries: Tensor | None = None, sharp: Tensor | None = None,
               sample: bool = False, generator: torch.Generator | None = None):
        """-> (mean, logvar, z) each [B, L, embed_dim]."""
        mean, logvar = self.pre_kl(self.encoder(surface, queries, sharp)).chunk(2, -1)
        logvar = logvar.clamp(-30.0, 20.0)
        z = mean
        if sample:
            z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=generator, device=mean.device,
                                                         dtype=mean.dtype)
        return mean, logvar, z

    def decode(self, z: Tensor) -> Tensor:  # [B, L, C] -> feats [B, L, W]
        return self.transformer(self.post_kl(z))

    def query(self, xyz: Tensor, feats: Tensor) -> Tensor:  # -> TSDF [B, P]
        return self.decoder(xyz, feats)
