"""SP4D dual-branch multi-view video UNet (SV4D 2.0 backbone x2 + BiDiFuse) on diffusers building blocks.

Forward signature (tensor-only, static shapes, no data-dependent Python control flow; export-friendly)::

    SP4DUNet.forward(
        sample,       # [B, V, T, 2*Cl, h, w]  c_in-scaled noisy latents; channels [:Cl] RGB, [Cl:] part branch
        c_noise,      # [B]                    EDM noise conditioning (0.25 * log(sigma))
        cond_latent,  # [B, T, Cl, h, w]       latents of the monocular input video (concatenated to every view)
        context,      # [B, T, D]              per-frame image embedding (CLIP in SV4D 2.0; learned in the small model)
        camera,       # [B, V, 2]              (polar, azimuth) of every output view, radians
        cond_aug,     # [B]                    noise-augmentation level of cond_latent
    ) -> Tensor       # [B, V, T, 2*Cl, h, w]  raw network output F (EDM: D = c_skip * x + c_out * F)

V (views), T (frames), h, w are fixed by ``SP4DConfig`` (``num_views``, ``num_frames``, ``latent_size``);
B is free. ``SV4DUNet`` (one branch) has the same signature with ``Cl`` channels in ``sample`` and out.

Layout: images are flattened to ``N = B*V*T`` in (b, v, t) order, frames innermost. Each transformer does
spatial attention (per image, cross-attends the frame's context), 3D view attention (joint over V*h*w
tokens of one frame, plus a view-index embedding) and temporal attention (per pixel over T frames, plus a
frame-index embedding), the last two α-blended with learnable ``mix_factor`` (diffusers ``AlphaBlender``).
Res blocks are diffusers ``SpatioTemporalResBlock`` (2D + (3,1,1) temporal conv, α-blended). Camera
(polar, azimuth) and cond_aug sinusoidal embeddings go through ``label_emb`` into the timestep embedding.
Module names follow the sgm ``input_blocks / middle_block / output_blocks`` layout so checkpoints map
one-to-one (see ``checkpoint.py``).

BiDiFuse (SP4D eq. 1): after every input block, the middle block and every output block,
``h_rgb += F([h_rgb, h_part])`` and ``h_part += F([h_rgb, h_part])`` with F = 1x1 conv, ReLU, 1x1 conv
(last conv zero-initialised, so a freshly added BiDiFuse is the identity as after stage 1). Skip
connections stay within their branch.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from diffusers.models.attention import BasicTransformerBlock, TemporalBasicTransformerBlock
from diffusers.models.embeddings import TimestepEmbedding, get_timestep_embedding
from diffusers.models.resnet import AlphaBlender, Downsample2D, SpatioTemporalResBlock, Upsample2D


@dataclass
class SP4DConfig:
    """Architecture of one SV4D 2.0-style branch (both branches are identical) plus the dual-branch options."""

    latent_channels: int = 4              # Cl: VAE latent channels (each branch generates Cl channels)
    model_channels: int = 320
    channel_mult: tuple = (1, 2, 4, 4)
    num_res_blocks: int = 2
    attention_levels: tuple = (0, 1, 2)   # levels (index into channel_mult) that get a transformer
    num_head_channels: int = 64
    transformer_depth: int = 1
    context_dim: int = 1024
    camera_embed_dim: int = 512           # per angle (polar, azimuth) sinusoidal embedding size
    cond_aug_embed_dim: int = 256
    num_views: int = 4                    # V
    num_frames: int = 12                  # T
    latent_size: int = 72                 # h = w
    merge_factor: float = 0.5             # initial α logit for the time/view mixers
    bidifuse: bool = True
    norm_groups: int = 32

    @property
    def in_channels(self) -> int:         # per branch: noisy latent + concatenated condition latent
        return 2 * self.latent_channels

    @property
    def adm_in_channels(self) -> int:
        return 2 * self.camera_embed_dim + self.cond_aug_embed_dim

    @property
    def time_embed_dim(self) -> int:
        return 4 * self.model_channels

    @classmethod
    def full(cls) -> "SP4DConfig":
        """SV4D 2.0 / SP4D scale: 4 views x 12 frames at 576^2 -> 72^2 latents (~1.3B parameters per branch)."""
        return cls()

    @classmethod
    def tiny(cls) -> "SP4DConfig":
        """For tests: runs forward+backward on CPU in well under a second (transformers on the lower level only)."""
        return cls(latent_channels=4, model_channels=32, channel_mult=(1, 2), num_res_blocks=1,
                   attention_levels=(1,), num_head_channels=16, context_dim=32, camera_embed_dim=16,
                   cond_aug_embed_dim=16, num_views=2, num_frames=2, latent_size=8)

    @classmethod
    def small(cls) -> "SP4DConfig":
        """The model trained here on procedural objects (64^2 images, 16^2 latents, 4 views x 4 frames)."""
        return cls(latent_channels=4, model_channels=32, channel_mult=(1, 1, 2), num_res_blocks=1,
                   attention_levels=(1, 2), num_head_channels=32, context_dim=64, camera_embed_dim=32,
                   cond_aug_embed_dim=16, num_views=4, num_frames=4, latent_size=16)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channel_mult"] = list(self.channel_mult)
        d["attention_levels"] = list(self.attention_levels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SP4DConfig":
        d = dict(d)
        d["channel_mult"] = tuple(d["channel_mult"])
        d["attention_levels"] = tuple(d["attention_levels"])
        return cls(**d)


def sinusoidal(x: Tensor, dim: int) -> Tensor:
    """sgm ``timestep_embedding``: [cos | sin] with max period 10000. x: [M] -> [M, dim]"""
    return get_timestep_embedding(x.reshape(-1).float(), dim, flip_sin_to_cos=True, downscale_freq_shift=0)


class SpatialVideoTransformer3D(nn.Module):
    """Spatial + 3D view + temporal attention on ``[(b v t), C, h, w]`` features (sgm names)."""

    def __init__(self, channels: int, cfg: SP4DConfig):
        super().__init__()
        heads = max(channels // cfg.num_head_channels, 1)
        dh = channels // heads
        self.num_views, self.num_frames = cfg.num_views, cfg.num_frames
        self.norm = nn.GroupNorm(cfg.norm_groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        d = cfg.transformer_depth
        self.transformer_blocks = nn.ModuleList(  # spatial
            [BasicTransformerBlock(channels, heads, dh, cross_attention_dim=cfg.context_dim) for _ in range(d)])
        self.time_mix_blocks = nn.ModuleList(  # 3D view attention (joint over views x pixels)
            [BasicTransformerBlock(channels, heads, dh, cross_attention_dim=cfg.context_dim) for _ in range(d)])
        self.motion_blocks = nn.ModuleList(  # temporal attention over frames
            [TemporalBasicTransformerBlock(channels, channels, heads, dh, cross_attention_dim=cfg.context_dim)
             for _ in range(d)])
        self.time_mix_time_embed = nn.Sequential(nn.Linear(channels, 4 * channels), nn.SiLU(),
                                                 nn.Linear(4 * channels, channels))   # view index embedding
        self.time_mix_motion_embed = nn.Sequential(nn.Linear(channels, 4 * channels), nn.SiLU(),
                                                   nn.Linear(4 * channels, channels))  # frame index embedding
        self.time_mixer = AlphaBlender(cfg.merge_factor, merge_strategy="learned")
        self.motion_mixer = AlphaBlender(cfg.merge_factor, merge_strategy="learned")
        self.proj_out = nn.Linear(channels, channels)
        self.channels = channels

    def forward(self, x: Tensor, ctx_img: Tensor, ctx_frame: Tensor, ctx_motion: Tensor) -> Tensor:
        """x: [N, C, h, w]; ctx_img: [N, 1, D]; ctx_frame: [B*T, 1, D]; ctx_motion: [B*V*h*w, 1, D]"""
        n, c, hh, ww = x.shape
        v, t = self.num_views, self.num_frames
        b = n // (v * t)
        s = hh * ww
        x_in = x
        h = self.norm(x).permute(0, 2, 3, 1).reshape(n, s, c)
        h = self.proj_in(h)
        dev = x.device
        emb_v = self.time_mix_time_embed(sinusoidal(torch.arange(v, device=dev), c).to(h.dtype))  # [V, C]
        emb_t = self.time_mix_motion_embed(sinusoidal(torch.arange(t, device=dev), c).to(h.dtype))  # [T, C]
        for blk, vblk, tblk in zip(self.transformer_blocks, self.time_mix_blocks, self.motion_blocks):
            h = blk(h, encoder_hidden_states=ctx_img)
            # 3D view attention: (b v t) s c -> (b t) (v s) c
            hv = h.reshape(b, v, t, s, c).permute(0, 2, 1, 3, 4)
            hv_mix = (hv + emb_v[None, None, :, None, :]).reshape(b * t, v * s, c)
            hv_mix = vblk(hv_mix, encoder_hidden_states=ctx_frame)
            hv = self.time_mixer(hv.reshape(b * t, v * s, c), hv_mix)
            h = hv.reshape(b, t, v, s, c).permute(0, 2, 1, 3, 4).reshape(n, s, c)
            # temporal attention over frames
            ht_mix = (h.reshape(b * v, t, s, c) + emb_t[None, :, None, :]).reshape(n, s, c)
            ht_mix = tblk(ht_mix, t, encoder_hidden_states=ctx_motion)
            h = self.motion_mixer(h, ht_mix)
        h = self.proj_out(h)
        h = h.reshape(n, hh, ww, c).permute(0, 3, 1, 2)
        return h + x_in


class SV4DUNet(nn.Module):
    """One SV4D 2.0-style branch: sgm ``input_blocks / middle_block / output_blocks / out`` layout."""

    def __init__(self, cfg: SP4DConfig):
        super().__init__()
        self.cfg = cfg
        mc, ted = cfg.model_channels, cfg.time_embed_dim
        self.time_embed = TimestepEmbedding(mc, ted)
        self.label_emb = TimestepEmbedding(cfg.adm_in_channels, ted)

        def res(cin, cout):
            return SpatioTemporalResBlock(cin, cout, temb_channels=ted, eps=1e-5, merge_factor=cfg.merge_factor)

        self.input_blocks = nn.ModuleList([nn.ModuleList([nn.Conv2d(cfg.in_channels, mc, 3, padding=1)])])
        chans = [mc]
        ch = mc
        for level, mult in enumerate(cfg.channel_mult):
            for _ in range(cfg.num_res_blocks):
                layers = [res(ch, mult * mc)]
                ch = mult * mc
                if level in cfg.attention_levels:
                    layers.append(SpatialVideoTransformer3D(ch, cfg))
                self.input_blocks.append(nn.ModuleList(layers))
                chans.append(ch)
            if level != len(cfg.channel_mult) - 1:
                self.input_blocks.append(nn.ModuleList([Downsample2D(ch, use_conv=True, out_channels=ch, padding=1, name="op")]))
                chans.append(ch)
        self.middle_block = nn.ModuleList([res(ch, ch), SpatialVideoTransformer3D(ch, cfg), res(ch, ch)])
        self.output_blocks = nn.ModuleList()
        for level, mult in list(enumerate(cfg.channel_mult))[::-1]:
            for i in range(cfg.num_res_blocks + 1):
                skip = chans.pop()
                layers = [res(ch + skip, mult * mc)]
                ch = mult * mc
                if level in cfg.attention_levels:
                    layers.append(SpatialVideoTransformer3D(ch, cfg))
                if level and i == cfg.num_res_blocks:
                    layers.append(Upsample2D(ch, use_conv=True, out_channels=ch))
                self.output_blocks.append(nn.ModuleList(layers))
        self.out = nn.Sequential(nn.GroupNorm(cfg.norm_groups, ch, eps=1e-5), nn.SiLU(),
                                 nn.Conv2d(ch, cfg.latent_channels, 3, padding=1))

    # ---- pieces shared with the dual-branch network
    def embed(self, c_noise: Tensor, camera: Tensor, cond_aug: Tensor) -> Tensor:
        """-> temb [N, time_embed_dim] in (b v t) order"""
        cfg = self.cfg
        b, v, t = camera.shape[0], cfg.num_views, cfg.num_frames
        temb = self.time_embed(sinusoidal(c_noise, cfg.model_channels).to(self.time_embed.linear_1.weight.dtype))
        y = torch.cat([sinusoidal(camera[..., 0], cfg.camera_embed_dim).reshape(b, v, -1),
                       sinusoidal(camera[..., 1], cfg.camera_embed_dim).reshape(b, v, -1),
                       sinusoidal(cond_aug, cfg.cond_aug_embed_dim)[:, None].expand(b, v, -1)], -1)
        y = self.label_emb(y.to(temb.dtype))                            # [B, V, ted]
        emb = temb[:, None, :] + y                                      # [B, V, ted]
        return emb[:, :, None].expand(b, v, t, -1).reshape(b * v * t, -1)

    def contexts(self, context: Tensor, hw: int) -> tuple[Tensor, Tensor, Tensor]:
        """context [B, T, D] -> per image [N,1,D], per frame [B*T,1,D], per pixel (frame 0) [B*V*hw,1,D]"""
        b, t, d = context.shape
        v = self.cfg.num_views
        ctx_img = context[:, None].expand(b, v, t, d).reshape(b * v * t, 1, d)
        ctx_frame = context.reshape(b * t, 1, d)
        ctx_motion = context[:, :1, None].expand(b, v, hw, d).reshape(b * v * hw, 1, d)
        return ctx_img, ctx_frame, ctx_motion

    def run_block(self, block: nn.ModuleList, h: Tensor, temb: Tensor, indicator: Tensor,
                  ctx: dict) -> Tensor:
        for layer in block:
            if isinstance(layer, SpatioTemporalResBlock):
                h = layer(h, temb, image_only_indicator=indicator)
            elif isinstance(layer, SpatialVideoTransformer3D):
                hw = h.shape[-1] * h.shape[-2]
                h = layer(h, ctx["img"], ctx["frame"], ctx[f"motion{hw}"])
            else:  # conv_in, Downsample2D, Upsample2D
                h = layer(h)
        return h

    def prepare(self, x: Tensor, cond_latent: Tensor, context: Tensor):
        """x [B,V,T,Cl,h,w] -> (h0 input [N, 2Cl, h, w], indicator [B*V, T], ctx dict)"""
        cfg = self.cfg
        b = x.shape[0]
        v, t = cfg.num_views, cfg.num_frames
        cl, hh, ww = x.shape[-3:]
        cond = cond_latent[:, None].expand(b, v, t, cl, hh, ww)
        h0 = torch.cat([x, cond], dim=3).reshape(b * v * t, 2 * cl, hh, ww)
        indicator = torch.zeros(b * v, t, dtype=x.dtype, device=x.device)
        ctx = {}
        ctx["img"], ctx["frame"], _ = self.contexts(context, 1)
        s = hh * ww
        for _level in range(len(cfg.channel_mult) + 1):  # per-resolution motion context (frame-0 embedding)
            ctx[f"motion{s}"] = self.contexts(context, s)[2]
            s //= 4
        return h0, indicator, ctx

    def forward(self, sample: Tensor, c_noise: Tensor, cond_latent: Tensor, context: Tensor,
                camera: Tensor, cond_aug: Tensor) -> Tensor:
        b, v, t, cl, hh, ww = sample.shape
        temb = self.embed(c_noise, camera, cond_aug)
        h, ind, ctx = self.prepare(sample, cond_latent, context)
        hs = []
        for blk in self.input_blocks:
            h = self.run_block(blk, h, temb, ind, ctx)
            hs.append(h)
        h = self.run_block(self.middle_block, h, temb, ind, ctx)
        for blk in self.output_blocks:
            h = self.run_block(blk, torch.cat([h, hs.pop()], 1), temb, ind, ctx)
        return self.out(h).reshape(b, v, t, cl, hh, ww)


class BiDiFuse(nn.Module):
    """h_rgb' = h_rgb + F([h_rgb, h_part]), h_part' = h_part + F([h_rgb, h_part]); F = conv1x1 -> ReLU -> conv1x1."""

    def __init__(self, channels: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(2 * channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, channels, 1))
        nn.init.zeros_(self.net[2].weight)
        nn.init.zeros_(self.net[2].bias)

    def forward(self, h_rgb: Tensor, h_part: Tensor) -> tuple[Tensor, Tensor]:
        d = self.net(torch.cat([h_rgb, h_part], 1))
        return h_rgb + d, h_part + d


def _block_out_channels(unet: SV4DUNet) -> tuple[list, int, list]:
    cfg = unet.cfg
    mc = cfg.model_channels
    ins = [mc]
    for level, mult in enumerate(cfg.channel_mult):
        ins += [mult * mc] * cfg.num_res_blocks
        if level != len(cfg.channel_mult) - 1:
            ins.append(mult * mc)
    outs = []
    for level, mult in list(enumerate(cfg.channel_mult))[::-1]:
        outs += [mult * mc] * (cfg.num_res_blocks + 1)
    return ins, cfg.channel_mult[-1] * mc, outs


class SP4DUNet(nn.Module):
    """Two SV4D 2.0 branches (RGB, part) joined by BiDiFuse. See the module docstring for the signature."""

    def __init__(self, cfg: SP4DConfig):
        super().__init__()
        self.cfg = cfg
        self.branch_rgb = SV4DUNet(cfg)
        self.branch_part = SV4DUNet(cfg)
        ins, mid, outs = _block_out_channels(self.branch_rgb)
        self.bidifuse_input = nn.ModuleList([BiDiFuse(c) for c in ins])
        self.bidifuse_middle = BiDiFuse(mid)
        self.bidifuse_output = nn.ModuleList([BiDiFuse(c) for c in outs])

    def _fuse(self, fuse: BiDiFuse, hr: Tensor, hp: Tensor):
        if self.cfg.bidifuse:
            return fuse(hr, hp)
        return hr, hp

    def forward_features(self, sample: Tensor, c_noise: Tensor, cond_latent: Tensor, context: Tensor,
                         camera: Tensor, cond_aug: Tensor) -> tuple[Tensor, Tensor]:
        """Like ``forward`` and also returns the part branch's last decoder features [N, C, h, w]."""
        b, v, t, c2, hh, ww = sample.shape
        cl = c2 // 2
        R, P = self.branch_rgb, self.branch_part
        temb_r = R.embed(c_noise, camera, cond_aug)
        temb_p = P.embed(c_noise, camera, cond_aug)
        hr, ind, ctx = R.prepare(sample[:, :, :, :cl], cond_latent, context)
        hp, _, _ = P.prepare(sample[:, :, :, cl:], cond_latent, context)
        hs_r, hs_p = [], []
        for br, bp, fz in zip(R.input_blocks, P.input_blocks, self.bidifuse_input):
            hr = R.run_block(br, hr, temb_r, ind, ctx)
            hp = P.run_block(bp, hp, temb_p, ind, ctx)
            hr, hp = self._fuse(fz, hr, hp)
            hs_r.append(hr)
            hs_p.append(hp)
        hr = R.run_block(R.middle_block, hr, temb_r, ind, ctx)
        hp = P.run_block(P.middle_block, hp, temb_p, ind, ctx)
        hr, hp = self._fuse(self.bidifuse_middle, hr, hp)
        for br, bp, fz in zip(R.output_blocks, P.output_blocks, self.bidifuse_output):
            hr = R.run_block(br, torch.cat([hr, hs_r.pop()], 1), temb_r, ind, ctx)
            hp = P.run_block(bp, torch.cat([hp, hs_p.pop()], 1), temb_p, ind, ctx)
            hr, hp = self._fuse(fz, hr, hp)
        out = torch.cat([R.out(hr).reshape(b, v, t, cl, hh, ww), P.out(hp).reshape(b, v, t, cl, hh, ww)], 3)
        return out, hp

    def forward(self, sample: Tensor, c_noise: Tensor, cond_latent: Tensor, context: Tensor,
                camera: Tensor, cond_aug: Tensor) -> Tensor:
        return self.forward_features(sample, c_noise, cond_latent, context, camera, cond_aug)[0]

    @torch.no_grad()
    def init_from_rgb_branch(self, branch: SV4DUNet | None = None) -> None:
        """Stage-2 initialisation (SP4D App. A): both branches start from the stage-1 RGB weights."""
        src = (branch or self.branch_rgb).state_dict()
        self.branch_rgb.load_state_dict(src)
        self.branch_part.load_state_dict(src)

    def example_inputs(self, batch: int = 1, device="cpu", dtype=torch.float32) -> tuple[Tensor, ...]:
        """Random inputs of the right shapes (for tests, export and benchmarks)."""
        c = self.cfg
        g = torch.Generator().manual_seed(0)
        s = c.latent_size

        def r(*shape):
            return torch.randn(*shape, generator=g).to(device=device, dtype=dtype)

        return (r(batch, c.num_views, c.num_frames, 2 * c.latent_channels, s, s), r(batch) * 0.5,
                r(batch, c.num_frames, c.latent_channels, s, s), r(batch, c.num_frames, c.context_dim),
                torch.rand(batch, c.num_views, 2, generator=g).to(device=device, dtype=dtype) * math.pi,
                torch.zeros(batch, device=device, dtype=dtype))


__all__ = ["SP4DConfig", "SP4DUNet", "SV4DUNet", "BiDiFuse", "SpatialVideoTransformer3D", "sinusoidal"]
