"""FLUX-style 1-D rectified-flow DiT over shape latents (Step1X-3D ``FluxTransformer1DModel``) and ShapeGen4D's
spatiotemporal extension (§3.2).

Base: ``x_embedder`` (in_channels -> D), timestep embedding (sinusoid -> ``time_embedder.linear_1/2``),
``proj_cross_attention`` (condition tokens -> D), ``transformer_blocks`` (dual-stream ``FluxTransformerBlock``),
``single_transformer_blocks`` (``FluxSingleTransformerBlock``), ``norm_out`` (AdaLayerNormContinuous: scale, shift)
and ``proj_out``; the block classes are diffusers' own, so their parameter names are the public ones. No positional
embedding in the base: shape tokens are a set. Top-level names other than the blocks are ours (unverified against the
Step1X-3D transformer file, whose layout the spec lists only for the blocks).

ShapeGen4D: a spatiotemporal layer (a ``FluxSingleTransformerBlock`` clone with zero-initialised ``proj_out``) after
every base block (``st_after_each_block``; the count is not stated in the paper). It attends jointly over
[condition tokens; shape tokens] of all T frames with a 1-D RoPE over the frame index (every token of frame t has
position t). ``st_attention="temporal"`` is the Table 3 ablation: each token attends only to the same token index
across frames. The base blocks process each frame independently (batch B*T).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor


def _diffusers():
    try:
        from diffusers.models.embeddings import TimestepEmbedding, Timesteps, get_1d_rotary_pos_embed
        from diffusers.models.normalization import AdaLayerNormContinuous
        from diffusers.models.transformers.transformer_flux import FluxSingleTransformerBlock, FluxTransformerBlock
    except ImportError as e:
        from ...errors import MissingDependencyError
        raise MissingDependencyError("diffusers", "the ShapeGen4D DiT", "pip install diffusers>=0.31") from e
    return (TimestepEmbedding, Timesteps, get_1d_rotary_pos_embed, AdaLayerNormContinuous, FluxSingleTransformerBlock,
            FluxTransformerBlock)


@dataclass
class DiTConfig:
    in_channels: int = 64
    width: int = 1280
    num_heads: int = 20
    num_layers: int = 12  # dual-stream blocks
    num_single_layers: int = 24
    cross_attention_dim: int = 1024  # DINOv2-L with registers
    time_in_dim: int | None = None  # sinusoid size (None = width, Step1X-3D; 256 for Hunyuan3D-2)
    flip_sin_to_cos: bool = False  # Step1X-3D: Timesteps(flip_sin_to_cos=False); BFL/Hunyuan: True (cos first)
    time_factor: float = 1.0  # model timestep = time_factor * t (Step1X-3D feeds the scheduler's [0, 1000))
    # ShapeGen4D spatiotemporal layers (ours where the paper is silent)
    st_layers: bool = False
    st_attention: str = "joint"  # "joint" (paper) | "temporal" (Table 3 ablation) | "shape" (shape tokens only)
    rope: bool = True  # 1-D RoPE over the frame index in the ST layers
    rope_theta: float = 10000.0  # unstated in the paper; FLUX's value

    @staticmethod
    def tiny(**kw) -> "DiTConfig":
        return DiTConfig(in_channels=8, width=64, num_heads=4, num_layers=1, num_single_layers=2,
                         cross_attention_dim=16, **kw)

    @staticmethod
    def hunyuan3d2() -> "DiTConfig":
        """Hunyuan3DDiT defaults (hidden 1024, 16 heads, 16 double + 32 single, context 1536, 256-d time)."""
        return DiTConfig(in_channels=64, width=1024, num_heads=16, num_layers=16, num_single_layers=32,
                         cross_attention_dim=1536, time_in_dim=256, flip_sin_to_cos=True, time_factor=1000.0)


class ShapeDiT(nn.Module):
    """Forward ``(x [B, T, L, C] or [B, L, C], t [B] or [B*T], cond [B, T, S, Dc] or [B, S, Dc]) -> v``."""

    def __init__(self, cfg: DiTConfig | None = None):
        super().__init__()
        TE, TS, _, AdaLNC, Single, Double = _diffusers()
        self.cfg = cfg = cfg or DiTConfig()
        D, H = cfg.width, cfg.num_heads
        tin = cfg.time_in_dim or D
        self.time_proj = TS(tin, flip_sin_to_cos=cfg.flip_sin_to_cos, downscale_freq_shift=0)
        self.time_embedder = TE(tin, D)
        self.x_embedder = nn.Linear(cfg.in_channels, D)
        self.proj_cross_attention = nn.Linear(cfg.cross_attention_dim, D)
        self.transformer_blocks = nn.ModuleList(Double(D, H, D // H) for _ in range(cfg.num_layers))
        self.single_transformer_blocks = nn.ModuleList(Single(D, H, D // H) for _ in range(cfg.num_single_layers))
        self.norm_out = AdaLNC(D, D, elementwise_affine=False, eps=1e-6)
        self.proj_out = nn.Linear(D, cfg.in_channels)
        if cfg.st_layers:
            n = cfg.num_layers + cfg.num_single_layers
            self.st_blocks = nn.ModuleList(Single(D, H, D // H) for _ in range(n))
            for b in self.st_blocks:  # zero-init: the model starts as the base 3-D model
                nn.init.zeros_(b.proj_out.weight)
                nn.init.zeros_(b.proj_out.bias)

    def base_parameters(self):
        return [p for n, p in self.named_parameters() if not n.startswith("st_blocks.")]

    def st_parameters(self):
        return [p for n, p in self.named_parameters() if n.startswith("st_blocks.")]

    # ---------------------------------------------------------------------------------------------- ST layer
    def _rope(self, T: int, per_frame: int, device, dtype):
        _, _, rope1d, *_ = _diffusers()
        pos = torch.arange(T, device=device).repeat_interleave(per_frame).to(torch.float64)
        cos, sin = rope1d(self.cfg.width // self.cfg.num_heads, pos, theta=self.cfg.rope_theta, use_real=True,
                          repeat_interleave_real=True, freqs_dtype=torch.float64)
        return cos.to(device=device, dtype=dtype), sin.to(device=device, dtype=dtype)

    def _st(self, k: int, ctx: Tensor, x: Tensor, temb: Tensor, B: int, T: int):
        """ctx [B*T, S, D], x [B*T, L, D], temb [B*T, D] -> the same, mixed across frames by ST layer k."""
        blk = self.st_blocks[k]
        S, L, D = ctx.shape[1], x.shape[1], x.shape[2]
        tb = temb.view(B, T, D)[:, 0]  # one t per sequence
        mode = self.cfg.st_attention
        if mode == "temporal":  # each token index attends across frames only
            tok = torch.cat([ctx, x], 1).view(B, T, S + L, D).transpose(1, 2).reshape(B * (S + L), T, D)
            emb = tb.repeat_interleave(S + L, 0)
            rope = self._rope(T, 1, x.device, x.dtype) if self.cfg.rope else None
            empty = tok[:, :0]
            _, out = blk(tok, empty, emb, image_rotary_emb=rope)
            out = out.view(B, S + L, T, D).transpose(1, 2).reshape(B * T, S + L, D)
            return out[:, :S], out[:, S:]
        if mode == "shape":
            tok = x.view(B, T * L, D)
            rope = self._rope(T, L, x.device, x.dtype) if self.cfg.rope else None
            _, out = blk(tok, tok[:, :0], tb, image_rotary_emb=rope)
            return ctx, out.view(B * T, L, D)
        tok = torch.cat([ctx, x], 1).view(B, T * (S + L), D)  # frame-major: [ctx_0; x_0; ctx_1; x_1; ...]
        rope = self._rope(T, S + L, x.device, x.dtype) if self.cfg.rope else None
        _, out = blk(tok, tok[:, :0], tb, image_rotary_emb=rope)
        out = out.view(B * T, S + L, D)
        return out[:, :S], out[:, S:]

    # ---------------------------------------------------------------------------------------------- forward
    def forward(self, x: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        seq = x.ndim == 4
        if seq:
            B, T = x.shape[:2]
            x = x.reshape(B * T, *x.shape[2:])
            cond = cond.reshape(B * T, *cond.shape[2:]) if cond.ndim == 4 else cond.repeat_interleave(T, 0)
            if t.numel() == B:
                t = t.repeat_interleave(T)
        else:
            B, T = x.shape[0], 1
        t = t.reshape(-1).to(x.dtype) * self.cfg.time_factor
        temb = self.time_embedder(self.time_proj(t).to(x.dtype))
        h = self.x_embedder(x)
        ctx = self.proj_cross_attention(cond)
        use_st = self.cfg.st_layers and seq
        k = 0
        for blk in self.transformer_blocks:
            ctx, h = blk(h, ctx, temb)
            if use_st:
                ctx, h = self._st(k, ctx, h, temb, B, T)
            k += 1
        for blk in self.single_transformer_blocks:
            ctx, h = blk(h, ctx, temb)
            if use_st:
                ctx, h = self._st(k, ctx, h, temb, B, T)
            k += 1
        out = self.proj_out(self.norm_out(h, temb))
        return out.view(B, T, *out.shape[1:]) if seq else out
