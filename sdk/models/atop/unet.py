"""ATOP's multi-view motion UNet (§3, §4.2): ImageDream's SD2.1 multi-view UNet inflated for video.

Layout (the ldm/ImageDream module tree, so the public checkpoint maps onto it name by name, see
``checkpoint.py``): ``time_embed``, ``camera_embed``, ``image_embed`` (IP-Adapter-plus Resampler),
``input_blocks`` / ``middle_block`` / ``output_blocks`` of ResBlocks (diffusers ``ResnetBlock2D``), spatial
transformers and down/up samplers (diffusers ``Downsample2D``/``Upsample2D``), ``out``; plus the new
``motion_modules`` (``motion.py``) after every spatial transformer.

* **Inflation (§3).** Latents are 6D ``[B, Nv, Nf, C, h, w]`` and run as ``[(B·Nv·Nf), C, h, w]``: every 3x3
  convolution acts per frame, i.e. it is a 1x3x3 convolution over (frame, y, x) with the pretrained 2D kernel
  (``inflate_conv_weight`` gives the 3D kernel; a test checks the equivalence).
* **Correspondence-aware view attention (§4.2.1, Eq. 2).** The pretrained self-attention runs on
  ``reshape((B·Nv·Nf)(hw)F -> (B·Nf)(Nv·hw)F)``: across the views of each frame index. ``spatial_attention=
  "views_frames"`` instead runs the *same weights* densely over all views and frames (Tune-A-Video-style
  spatio-temporal inflation, §3); ``"views"`` (Eq. 2) is the default.
* **Appearance injection (§4.2.2, Eq. 3).** ``Attn(Q, K_txt, V_txt) + λ·Attn(Q, K_img, V_img)`` with ImageDream's
  decoupled ``to_k_ip``/``to_v_ip``; the image tokens are the CLIP embeddings of the 4 rest-state views, each
  view's latent attending to its own view's tokens (broadcast over frames). λ = ``ip_weight`` (1.0).
* **Camera (§4.2.4).** ``emb = time_embed(t) + camera_embed(camera)``: a 2-layer MLP on the flattened 4x4
  extrinsics (16) added to the timestep embedding, fed to every ResBlock.
* **Motion module (§4.2.3)** after each spatial transformer; the only trainable part (``freeze_base``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .motion import MotionModule


@dataclass
class ATOPConfig:
    in_channels: int = 4
    out_channels: int = 4
    model_channels: int = 320
    channel_mult: tuple = (1, 2, 4, 4)
    attention_resolutions: tuple = (4, 2, 1)
    num_res_blocks: int = 2
    num_head_channels: int = 64
    context_dim: int = 1024
    transformer_depth: int = 1
    norm_groups: int = 32
    camera_dim: int = 16  # flattened 4x4 extrinsics
    ip_tokens: int = 16  # image tokens per view (ImageDream ip_dim, local_resample)
    clip_dim: int = 1280  # OpenCLIP ViT-H penultimate width (Resampler input)
    resampler_depth: int = 4
    resampler_heads: int = 12
    resampler_dim_head: int = 64
    with_resampler: bool = True
    ip_weight: float = 1.0  # λ of Eq. 3
    num_views: int = 4
    num_frames: int = 10
    latent_size: int = 32  # 256^2 images / 8
    spatial_attention: str = "views"  # "views" (Eq. 2) | "views_frames" (dense over views x frames)
    motion_heads: int = 8  # ours: heads of the motion module's attentions
    film_hidden: int = 64  # ours: hidden width of the FiLM MLPs f, g
    scale_factor: float = 0.18215
    extra: dict = field(default_factory=dict)

    @classmethod
    def full(cls) -> "ATOPConfig":
        """ImageDream sd-v2.1-base-4view-ipmv (imagedream/configs/sd_v2_base_ipmv.yaml), 4 views x 10 frames."""
        return cls()

    @classmethod
    def tiny(cls) -> "ATOPConfig":
        """For tests: every code path (2 levels, attention at both, resampler), random weights, CPU-fast."""
        return cls(model_channels=16, channel_mult=(1, 2), attention_resolutions=(1, 2), num_res_blocks=1,
                   num_head_channels=8, context_dim=16, norm_groups=4, ip_tokens=4, clip_dim=12, resampler_depth=1,
                   resampler_heads=2, resampler_dim_head=8, num_views=2, num_frames=3, latent_size=8,
                   motion_heads=2, film_hidden=8)

    @classmethod
    def small(cls) -> "ATOPConfig":
        """The small model trained here (stand-in for ImageDream; ``train.py``): 4 views x 10 frames (ATOP §5.1) at
        32^2 pixel latents (``dataset.py``); widths, depths and heads are ours (sized for a few GPU minutes)."""
        return cls(model_channels=64, channel_mult=(1, 2, 2), attention_resolutions=(2, 4), num_res_blocks=1,
                   num_head_channels=32, context_dim=64, norm_groups=16, ip_tokens=4, clip_dim=64,
                   resampler_depth=1, resampler_heads=2, resampler_dim_head=32, num_views=4, num_frames=10,
                   latent_size=32, motion_heads=4, film_hidden=32)

    @property
    def time_embed_dim(self) -> int:
        return 4 * self.model_channels


def inflate_conv_weight(w: Tensor) -> Tensor:
    """A 2D kernel [O, I, 3, 3] as the equivalent 1x3x3 3D kernel [O, I, 1, 3, 3] (§3)."""
    return w[:, :, None]


class CrossAttention(nn.Module):
    """ldm ``CrossAttention`` (to_q/k/v without bias, to_out.0) with ImageDream's decoupled image K/V (Eq. 3)."""

    def __init__(self, query_dim: int, context_dim: int | None, heads: int, dim_head: int, ip: bool = False):
        super().__init__()
        inner = heads * dim_head
        context_dim = context_dim or query_dim
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim), nn.Dropout(0.0)])
        if ip:
            self.to_k_ip = nn.Linear(context_dim, inner, bias=False)
            self.to_v_ip = nn.Linear(context_dim, inner, bias=False)
        self.ip = ip

    def _attn(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        B, Lq, D = q.shape
        h = self.heads
        q, k, v = (x.view(B, -1, h, D // h).transpose(1, 2) for x in (q, k, v))
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, Lq, D)

    def forward(self, x: Tensor, context: Tensor | None = None, ip_tokens: Tensor | None = None,
                ip_weight: float = 1.0) -> Tensor:
        ctx = x if context is None else context
        out = self._attn(self.to_q(x), self.to_k(ctx), self.to_v(ctx))
        if self.ip and ip_tokens is not None and ip_weight != 0:
            q = self.to_q(x)
            out = out + ip_weight * self._attn(q, self.to_k_ip(ip_tokens), self.to_v_ip(ip_tokens))
        return self.to_out[1](self.to_out[0](out))


def view_tokens(x: Tensor, num_views: int, num_frames: int) -> Tensor:
    """Eq. 2: [(B·Nv·Nf), L, F] -> [(B·Nf), (Nv·L), F] (attention across the views of each frame)."""
    BVF, L, C = x.shape
    B = BVF // (num_views * num_frames)
    return x.view(B, num_views, num_frames, L, C).permute(0, 2, 1, 3, 4).reshape(B * num_frames, num_views * L, C)


def view_tokens_inverse(x: Tensor, num_views: int, num_frames: int) -> Tensor:
    """Inverse of ``view_tokens``."""
    BF, VL, C = x.shape
    B, L = BF // num_frames, VL // num_views
    return x.view(B, num_frames, num_views, L, C).permute(0, 2, 1, 3, 4).reshape(B * num_views * num_frames, L, C)


class TransformerBlock3D(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int):
        super().__init__()
        from diffusers.models.attention import FeedForward
        self.attn1 = CrossAttention(dim, None, heads, dim_head)
        self.ff = FeedForward(dim, mult=4, activation_fn="geglu")
        self.attn2 = CrossAttention(dim, context_dim, heads, dim_head, ip=True)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x: Tensor, context: Tensor, ip_tokens: Tensor | None, nv: int, nf: int, mode: str,
                ip_weight: float) -> Tensor:
        h = self.norm1(x)
        if mode == "views":
            x = x + view_tokens_inverse(self.attn1(view_tokens(h, nv, nf)), nv, nf)
        else:  # dense spatio-temporal: all views and frames of a sample, same weights
            BVF, L, C = h.shape
            x = x + self.attn1(h.reshape(BVF // (nv * nf), nv * nf * L, C)).reshape(BVF, L, C)
        x = x + self.attn2(self.norm2(x), context, ip_tokens, ip_weight)
        return x + self.ff(self.norm3(x))


class SpatialTransformer3D(nn.Module):
    def __init__(self, ch: int, heads: int, dim_head: int, context_dim: int, depth: int, groups: int):
        super().__init__()
        inner = heads * dim_head
        self.norm = nn.GroupNorm(groups, ch, eps=1e-6)
        self.proj_in = nn.Linear(ch, inner)
        self.transformer_blocks = nn.ModuleList([TransformerBlock3D(inner, heads, dim_head, context_dim)
                                                 for _ in range(depth)])
        self.proj_out = nn.Linear(inner, ch)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x: Tensor, context, ip_tokens, nv, nf, mode, ip_weight) -> Tensor:
        BVF, C, h, w = x.shape
        t = self.proj_in(self.norm(x).flatten(2).transpose(1, 2))
        for blk in self.transformer_blocks:
            t = blk(t, context, ip_tokens, nv, nf, mode, ip_weight)
        return x + self.proj_out(t).transpose(1, 2).reshape(BVF, C, h, w)


class PerceiverAttention(nn.Module):
    def __init__(self, dim: int, dim_head: int, heads: int):
        super().__init__()
        inner = dim_head * heads
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: Tensor, latents: Tensor) -> Tensor:
        x, lat = self.norm1(x), self.norm2(latents)
        B, L, _ = lat.shape
        q = self.to_q(lat)
        k, v = self.to_kv(torch.cat([x, lat], 1)).chunk(2, -1)
        h = self.heads
        q, k, v = (t.view(B, -1, h, t.shape[-1] // h).transpose(1, 2) for t in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, L, -1)
        return self.to_out(o)


class Resampler(nn.Module):
    """IP-Adapter-plus Resampler (ImageDream ``ip_mode=local_resample``): CLIP ViT-H penultimate tokens of one view
    [N, 257, 1280] -> ``ip_tokens`` tokens [N, 16, context_dim]."""

    def __init__(self, dim: int, depth: int, dim_head: int, heads: int, num_queries: int, embedding_dim: int,
                 output_dim: int, ff_mult: int = 4):
        super().__init__()
        self.latents = nn.Parameter(torch.randn(1, num_queries, dim) / dim ** 0.5)
        self.proj_in = nn.Linear(embedding_dim, dim)
        self.proj_out = nn.Linear(dim, output_dim)
        self.norm_out = nn.LayerNorm(output_dim)
        self.layers = nn.ModuleList([nn.ModuleList([
            PerceiverAttention(dim, dim_head, heads),
            nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim * ff_mult, bias=False), nn.GELU(),
                          nn.Linear(dim * ff_mult, dim, bias=False))]) for _ in range(depth)])

    def forward(self, x: Tensor) -> Tensor:
        lat = self.latents.expand(x.shape[0], -1, -1)
        x = self.proj_in(x)
        for attn, ff in self.layers:
            lat = attn(x, lat) + lat
            lat = ff(lat) + lat
        return self.norm_out(self.proj_out(lat))


class ATOPUNet(nn.Module):
    """Multi-view video UNet. ``forward(x [B,Nv,Nf,C,h,w], t [B], text [B,T,Cc], camera [B,Nv,16],
    image_tokens [B,Nv,I,Cc] | clip_features [B,Nv,S,clip_dim], mask [B,Nv,1,H,W]) -> ε [B,Nv,Nf,C,h,w]``."""

    def __init__(self, cfg: ATOPConfig):
        super().__init__()
        from diffusers.models.embeddings import TimestepEmbedding, Timesteps
        from diffusers.models.resnet import Downsample2D, ResnetBlock2D, Upsample2D
        self.cfg = cfg
        mc, ted, g = cfg.model_channels, cfg.time_embed_dim, cfg.norm_groups
        self.time_proj = Timesteps(mc, flip_sin_to_cos=True, downscale_freq_shift=0)  # ldm timestep_embedding
        self.time_embed = TimestepEmbedding(mc, ted)
        self.camera_embed = TimestepEmbedding(cfg.camera_dim, ted)
        if cfg.with_resampler:
            self.image_embed = Resampler(cfg.context_dim, cfg.resampler_depth, cfg.resampler_dim_head,
                                         cfg.resampler_heads, cfg.ip_tokens, cfg.clip_dim, cfg.context_dim)

        def res(i, o):
            return ResnetBlock2D(in_channels=i, out_channels=o, temb_channels=ted, groups=g, eps=1e-5)

        def attn(ch):
            heads = ch // cfg.num_head_channels
            return SpatialTransformer3D(ch, heads, cfg.num_head_channels, cfg.context_dim, cfg.transformer_depth, g)

        self.motion_modules = nn.ModuleDict()

        def motion(key, ch):
            self.motion_modules[key] = MotionModule(ch, cfg.motion_heads, cfg.film_hidden)

        self.input_blocks = nn.ModuleList([nn.ModuleList([nn.Conv2d(cfg.in_channels, mc, 3, padding=1)])])
        chans, ch, ds = [mc], mc, 1
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks):
                layers = [res(ch, mult * mc)]
                ch = mult * mc
                if ds in cfg.attention_resolutions:
                    layers.append(attn(ch))
                    motion(f"input_blocks_{len(self.input_blocks)}", ch)
                self.input_blocks.append(nn.ModuleList(layers))
                chans.append(ch)
            if level != len(cfg.channel_mult) - 1:
                self.input_blocks.append(nn.ModuleList([Downsample2D(ch, use_conv=True, padding=1, name="op")]))
                chans.append(ch)
                ds *= 2
        self.middle_block = nn.ModuleList([res(ch, ch), attn(ch), res(ch, ch)])
        motion("middle_block", ch)
        self.output_blocks = nn.ModuleList()
        for level, mult in list(enumerate(cfg.channel_mult))[::-1]:
            for i in range(cfg.num_res_blocks + 1):
                layers = [res(ch + chans.pop(), mc * mult)]
                ch = mc * mult
                if ds in cfg.attention_resolutions:
                    layers.append(attn(ch))
                    motion(f"output_blocks_{len(self.output_blocks)}", ch)
                if level and i == cfg.num_res_blocks:
                    layers.append(Upsample2D(ch, use_conv=True))
                    ds //= 2
                self.output_blocks.append(nn.ModuleList(layers))
        self.out = nn.Sequential(nn.GroupNorm(g, ch), nn.SiLU(), nn.Conv2d(mc, cfg.out_channels, 3, padding=1))

    # -- training helpers --------------------------------------------------------------------------------
    def freeze_base(self) -> None:
        """§4.2.5: only the motion module trains."""
        for n, p in self.named_parameters():
            p.requires_grad_(n.startswith("motion_modules."))

    def motion_parameters(self):
        return self.motion_modules.parameters()

    def motion_state_dict(self) -> dict:
        return {k: v for k, v in self.state_dict().items() if k.startswith("motion_modules.")}

    def base_state_dict(self) -> dict:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("motion_modules.")}

    # -- forward -------------------------------------------------------------------------------------------
    def _run(self, block, key, h, emb, ctx, ip, mask, nv, nf, use_motion):
        from diffusers.models.resnet import ResnetBlock2D
        for layer in block:
            if isinstance(layer, ResnetBlock2D):
                h = layer(h, emb)
            elif isinstance(layer, SpatialTransformer3D):
                h = layer(h, ctx, ip, nv, nf, self.cfg.spatial_attention, self.cfg.ip_weight)
                if use_motion:
                    h = self.motion_modules[key](h, mask, nv, nf)
            else:
                h = layer(h)
        return h

    def forward(self, x: Tensor, t: Tensor, text: Tensor, camera: Tensor, *, image_tokens: Tensor | None = None,
                clip_features: Tensor | None = None, mask: Tensor | None = None, use_motion: bool = True) -> Tensor:
        """x [B,Nv,Nf,C,h,w]; t [B] or scalar; text [B,T,Cc]; camera [B,Nv,camera_dim];
        image_tokens [B,Nv,I,Cc] or clip_features [B,Nv,S,clip_dim] (through the Resampler); mask [B,Nv,1,H,W]."""
        B, nv, nf, C, h, w = x.shape
        t = torch.as_tensor(t, device=x.device).reshape(-1).expand(B)
        emb = self.time_embed(self.time_proj(t).to(x.dtype))  # [B, ted]
        emb = emb[:, None] + self.camera_embed(camera.to(x.dtype))  # [B, Nv, ted]
        emb = emb[:, :, None].expand(B, nv, nf, -1).reshape(B * nv * nf, -1)
        ctx = text[:, None].expand(B, nv * nf, *text.shape[1:]).reshape(B * nv * nf, *text.shape[1:])
        if image_tokens is None and clip_features is not None:
            image_tokens = self.image_embed(clip_features.reshape(B * nv, *clip_features.shape[2:])).view(
                B, nv, self.cfg.ip_tokens, -1)
        ip = None
        if image_tokens is not None:
            ip = image_tokens[:, :, None].expand(B, nv, nf, *image_tokens.shape[2:]).reshape(
                B * nv * nf, *image_tokens.shape[2:])
        hcur = x.reshape(B * nv * nf, C, h, w)
        skips = []
        for i, blk in enumerate(self.input_blocks):
            hcur = self._run(blk, f"input_blocks_{i}", hcur, emb, ctx, ip, mask, nv, nf, use_motion)
            skips.append(hcur)
        hcur = self._run(self.middle_block, "middle_block", hcur, emb, ctx, ip, mask, nv, nf, use_motion)
        for i, blk in enumerate(self.output_blocks):
            hcur = torch.cat([hcur, skips.pop()], 1)
            hcur = self._run(blk, f"output_blocks_{i}", hcur, emb, ctx, ip, mask, nv, nf, use_motion)
        return self.out(hcur).view(B, nv, nf, -1, h, w)
