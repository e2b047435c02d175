"""The MV-VDM UNet Track4DGen builds on (Animate3D's ``MVUNetMotionModel``), on diffusers blocks.

Layout (SD-1.5 ``UNet2DConditionModel`` inflated by AnimateDiff, as in Animate3D ``unet_motion_mv_model.py``):

* ``conv_in``, ``time_proj``/``time_embedding`` and MVDream's ``camera_embedding`` (a ``TimestepEmbedding`` of the
  flattened 4x4 camera, **added to the time embedding**);
* 4 down blocks (``CrossAttnDownBlockMotion`` x 3 + ``DownBlockMotion``), a ``UNetMidBlockCrossAttnMotion`` and 4 up
  blocks (``UpBlockMotion`` + ``CrossAttnUpBlockMotion`` x 3), each spatial block followed by an AnimateDiff motion
  module (``AnimateDiffTransformer3D``: temporal attention over frames with a sinusoidal frame encoding; its
  ``proj_out`` is zero-initialised so a fresh motion module is the identity);
* every spatial self-attention (``attentions.*.transformer_blocks.*.attn1``) is MVDream's multi-view 3-D attention:
  the tokens of the N views of one frame are folded into one sequence (``(b n f) l c -> (b f) (n l) c``), plus the
  **MV2V adapter** (Animate3D ``MVDreamI2VXFormersAttnProcessor``): a second query ``to_q_i2v`` of the noisy tokens
  attends to the keys/values of the *first* (conditioning) frame, through ``to_out_i2v`` (zero-initialised), and is
  summed before ``to_out``;
* every motion-module attention (``motion_modules.*.transformer_blocks.0.attn{1,2}``) is Animate3D's
  ``SpatioTemporalI2VXFormersAttnProcessor`` with its training config (spatial branch on, image branch off): the
  temporal attention of AnimateDiff (frame encoding moved from the block's ``pos_embed`` into the processor's
  ``time_pos_embed``) blended by a learned ``AlphaBlender`` with a spatial attention over all views' tokens of one
  frame (``to_{q,k,v,out}_sp``, 2-D sine position encoding).

The batch is Animate3D's ``(b n f)`` order: sample, then view, then frame. Parameter names equal Animate3D's, so its
checkpoints load with the identity map (``checkpoint.py``). Objective: epsilon prediction, DDPM betas 0.00085-0.012
over 1000 steps (``DDPMSchedule``). Animate3D's train/inference configs say ``beta_schedule: "linear"`` (AnimateDiff's
training choice); SD-1.5 itself was trained with ``scaled_linear``. Both are selectable; the default follows
Animate3D's config, the checkpoint this model loads.

**IP-Adapter image conditioning** (Animate3D loads ``h94/IP-Adapter`` ``models/ip-adapter_sd15.bin``; ``cfg.ip_adapter``):
the IP-Adapter SD-1.5 ``ImageProjModel`` (diffusers ``ImageProjection``: Linear(clip_dim -> 4 x cross_dim) +
LayerNorm, inside diffusers' ``MultiIPAdapterImageProjection`` as ``encoder_hid_proj``) turns each view's CLIP
image embedding into 4 tokens, and every spatial cross-attention (``attn2``; not the motion modules) becomes the
decoupled cross-attention of diffusers' ``IPAdapterAttnProcessor2_0`` (``to_k_ip.0`` / ``to_v_ip.0``, ``scale``):
softmax(q k_text) v_text + scale * softmax(q k_img) v_img, text and image tokens attended separately and summed
before ``to_out``. attn1 stays the multi-view (+ MV2V) attention. As in Animate3D's ``MVUNetMotionModel.forward``,
the image embeddings are per view (the conditioning frame of each view through the CLIP image encoder) and
repeated over the frames. A fresh model initialises ``to_k_ip``/``to_v_ip`` as copies of ``to_k``/``to_v`` (the
IP-Adapter training script's initialisation).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SD15_DOWN = ("CrossAttnDownBlockMotion", "CrossAttnDownBlockMotion", "CrossAttnDownBlockMotion", "DownBlockMotion")
SD15_UP = ("UpBlockMotion", "CrossAttnUpBlockMotion", "CrossAttnUpBlockMotion", "CrossAttnUpBlockMotion")


@dataclass
class MVVDMConfig:
    """One config for the whole MV-VDM. ``full()`` = Animate3D (SD-1.5 + camera + AnimateDiff v1-5-2 + MV2V)."""
    in_channels: int = 4
    out_channels: int = 4
    block_out_channels: tuple = (320, 640, 1280, 1280)
    down_block_types: tuple = SD15_DOWN
    up_block_types: tuple = SD15_UP
    layers_per_block: int = 2
    cross_attention_dim: int = 768          # CLIP ViT-L/14 text tokens
    num_attention_heads: int = 8            # SD-1.5 "attention_head_dim: 8" (= heads, diffusers' naming quirk)
    norm_num_groups: int = 32
    camera_dim: int = 16                    # MVDream: flattened 4x4 camera-to-world
    motion_num_attention_heads: int = 8
    motion_max_seq_length: int = 32
    use_motion_mid_block: bool = True       # AnimateDiff v1-5-2 has a mid-block motion module
    mv2v: bool = True                       # MV2V adapter in the multi-view attentions
    spatial_motion_attn: bool = True        # Animate3D's spatial branch + alpha blender in the motion modules
    spatial_motion_levels: tuple | None = None  # resolution levels (0 = full) that get it; None = all (Animate3D).
    #                                             Ours, for cheap CPU configs: the others stay plain AnimateDiff
    ip_adapter: bool = True                 # Animate3D loads h94/IP-Adapter (ip-adapter_sd15): image cross-attn
    ip_image_embed_dim: int = 1024          # CLIP ViT-H/14 image_embeds (projection_dim) of its image encoder
    ip_num_tokens: int = 4                  # IP-Adapter SD-1.5 ImageProjModel: 4 image tokens
    ip_scale: float = 1.0                   # diffusers' default IP-Adapter scale (Animate3D keeps it)
    zero_init_motion_out: bool = True       # AnimateDiff: fresh motion modules are the identity
    n_views: int = 4
    n_frames: int = 16
    latent_size: int = 32                   # 256 px / 8 (SD VAE)

    @classmethod
    def full(cls) -> "MVVDMConfig":
        return cls()

    @classmethod
    def tiny(cls, **kw) -> "MVVDMConfig":
        base = dict(block_out_channels=(16, 32, 32), down_block_types=SD15_DOWN[1:], up_block_types=SD15_UP[:1] +
                    SD15_UP[2:], layers_per_block=1, cross_attention_dim=16, num_attention_heads=2,
                    norm_num_groups=8, motion_num_attention_heads=2, n_views=2, n_frames=4, latent_size=16,
                    ip_adapter=False, ip_image_embed_dim=8)
        base.update(kw)
        return cls(**base)


@dataclass
class _Layout:
    """Set by ``MVVDMUNet.forward`` and read by the processors (the batch is (b n f))."""
    n_views: int = 1
    n_frames: int = 1
    latent_hw: tuple = (1, 1)
    samples: int = 1     # b


def _sdpa(q: Tensor, k: Tensor, v: Tensor, heads: int) -> Tensor:  # [B, Lq, C], [B, Lk, C] -> [B, Lq, C]
    b, lq, c = q.shape
    q, k, v = (x.reshape(x.shape[0], x.shape[1], heads, c // heads).transpose(1, 2) for x in (q, k, v))
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, lq, c)


def sine_pe_2d(h: int, w: int, num_feats: int, device=None, temperature: float = 10000.0) -> Tensor:
    """mmdet/DETR ``SinePositionalEncoding2D(num_feats, normalize=True)`` as Animate3D uses it -> [2*num_feats, h, w]
    (y features first, then x)."""
    eps, scale = 1e-6, 2 * math.pi
    y = torch.arange(1, h + 1, dtype=torch.float32, device=device)[:, None].expand(h, w)
    x = torch.arange(1, w + 1, dtype=torch.float32, device=device)[None, :].expand(h, w)
    y = y / (h + eps) * scale
    x = x / (w + eps) * scale
    dim_t = torch.arange(num_feats, dtype=torch.float32, device=device)
    dim_t = temperature ** (2 * (dim_t // 2) / num_feats)
    px, py = x[..., None] / dim_t, y[..., None] / dim_t
    px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), -1).reshape(h, w, -1)
    py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), -1).reshape(h, w, -1)
    return torch.cat((py, px), -1).permute(2, 0, 1)


class MV2VAttnProcessor(nn.Module):
    """MVDream multi-view self-attention + Animate3D's MV2V adapter (``to_q_i2v``, ``to_out_i2v``), for ``attn1`` of
    the spatial transformer blocks. hidden_states [(b n f), L, C] -> same."""

    def __init__(self, hidden_size: int, layout: _Layout, mv2v: bool = True, init_q: Tensor | None = None):
        super().__init__()
        self.layout = layout
        self.mv2v = mv2v
        if mv2v:
            self.to_q_i2v = nn.Linear(hidden_size, hidden_size, bias=False)
            self.to_out_i2v = nn.Linear(hidden_size, hidden_size, bias=True)
            with torch.no_grad():  # Animate3D: to_q_i2v = copy of to_q, to_out_i2v = 0
                if init_q is not None:
                    self.to_q_i2v.weight.copy_(init_q)
                nn.init.zeros_(self.to_out_i2v.weight)
                nn.init.zeros_(self.to_out_i2v.bias)

    def __call__(self, attn, hidden_states: Tensor, encoder_hidden_states: Tensor | None = None,
                 attention_mask: Tensor | None = None, temb: Tensor | None = None, *args, **kwargs) -> Tensor:
        return super().__call__(attn, hidden_states, encoder_hidden_states)

    def forward(self, attn, hidden_states: Tensor, encoder_hidden_states: Tensor | None = None) -> Tensor:
        if encoder_hidden_states is not None:
            raise ValueError("MV2VAttnProcessor is for self-attention (attn1) only")
        n, f = self.layout.n_views, self.layout.n_frames
        bnf, length, c = hidden_states.shape
        b = bnf // (n * f)
        # (b n f) l c -> (b f) (n l) c : the views of one frame share one token set (MVDream 3-D attention)
        x = hidden_states.reshape(b, n, f, length, c).permute(0, 2, 1, 3, 4).reshape(b * f, n * length, c)
        q, k, v = attn.to_q(x), attn.to_k(x), attn.to_v(x)
        out = _sdpa(q, k, v, attn.heads)
        if self.mv2v:
            # keys/values of the first (conditioning) frame, shared by every frame of the same sample
            k0 = k.reshape(b, f, n * length, c)[:, :1].expand(b, f, n * length, c).reshape(b * f, n * length, c)
            v0 = v.reshape(b, f, n * length, c)[:, :1].expand(b, f, n * length, c).reshape(b * f, n * length, c)
            out = out + self.to_out_i2v(_sdpa(self.to_q_i2v(x), k0, v0, attn.heads))
        out = attn.to_out[1](attn.to_out[0](out))
        return out.reshape(b, f, n, length, c).permute(0, 2, 1, 3, 4).reshape(bnf, length, c)


class SpatioTemporalAttnProcessor(nn.Module):
    """Animate3D's motion-module attention (training config: spatial branch on, image branch off, alpha blender):
    AnimateDiff temporal attention (+ ``time_pos_embed``) blended with a spatial attention over all views' tokens of
    one frame (+ 2-D sine encoding). hidden_states [(b n h w), f, C] -> same."""

    def __init__(self, hidden_size: int, layout: _Layout, max_seq_length: int = 32, spatial: bool = True):
        super().__init__()
        from diffusers.models.embeddings import SinusoidalPositionalEmbedding
        from diffusers.models.resnet import AlphaBlender
        self.layout = layout
        self.spatial = spatial
        self.time_pos_embed = SinusoidalPositionalEmbedding(hidden_size, max_seq_length)
        if spatial:
            self.to_q_sp = nn.Linear(hidden_size, hidden_size, bias=False)
            self.to_k_sp = nn.Linear(hidden_size, hidden_size, bias=False)
            self.to_v_sp = nn.Linear(hidden_size, hidden_size, bias=False)
            self.to_out_sp = nn.Linear(hidden_size, hidden_size, bias=True)
            self.alpha_blender = AlphaBlender(alpha=0.0, merge_strategy="learned")

    def __call__(self, attn, hidden_states: Tensor, encoder_hidden_states: Tensor | None = None,
                 attention_mask: Tensor | None = None, temb: Tensor | None = None, *args, **kwargs) -> Tensor:
        return super().__call__(attn, hidden_states)

    def forward(self, attn, hidden_states: Tensor) -> Tensor:
        rows, f, c = hidden_states.shape
        lay = self.layout
        temporal_in = self.time_pos_embed(hidden_states)
        out = attn.to_out[1](attn.to_out[0](_sdpa(attn.to_q(temporal_in), attn.to_k(temporal_in),
                                                  attn.to_v(temporal_in), attn.heads)))
        if not self.spatial:
            return out
        n, b = lay.n_views, lay.samples
        hw = rows // (b * n)
        s = math.sqrt(lay.latent_hw[0] * lay.latent_hw[1] / hw)
        h, w = round(lay.latent_hw[0] / s), round(lay.latent_hw[1] / s)
        # (b n h w) f c -> (b f) (n h w) c, + 2-D sine encoding per view
        x = hidden_states.reshape(b, n, h, w, f, c).permute(0, 4, 1, 2, 3, 5)
        x = x + sine_pe_2d(h, w, c // 2, x.device).permute(1, 2, 0).to(x.dtype)
        x = x.reshape(b * f, n * h * w, c)
        sp = self.to_out_sp(_sdpa(self.to_q_sp(x), self.to_k_sp(x), self.to_v_sp(x), attn.heads))
        sp = sp.reshape(b, f, n, h, w, c).permute(0, 2, 3, 4, 1, 5).reshape(rows, f, c)
        return self.alpha_blender(sp, out)


def _ip_processor(attn, cfg: MVVDMConfig):
    """diffusers' decoupled cross-attention for one ``attn2``, initialised as IP-Adapter's training script does
    (``to_k_ip`` / ``to_v_ip`` = copies of the layer's ``to_k`` / ``to_v``)."""
    from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0
    proc = IPAdapterAttnProcessor2_0(hidden_size=attn.to_k.out_features, cross_attention_dim=cfg.cross_attention_dim,
                                     num_tokens=(cfg.ip_num_tokens,), scale=cfg.ip_scale)
    with torch.no_grad():
        proc.to_k_ip[0].weight.copy_(attn.to_k.weight)
        proc.to_v_ip[0].weight.copy_(attn.to_v.weight)
    return proc


def _ip_projection(cfg: MVVDMConfig) -> nn.Module:
    """IP-Adapter SD-1.5 ``ImageProjModel`` in diffusers' names: ``encoder_hid_proj.image_projection_layers.0.
    {image_embeds, norm}`` (what ``UNet2DConditionModel._load_ip_adapter_weights`` builds)."""
    from diffusers.models.embeddings import ImageProjection, MultiIPAdapterImageProjection
    return MultiIPAdapterImageProjection([ImageProjection(image_embed_dim=cfg.ip_image_embed_dim,
                                                          cross_attention_dim=cfg.cross_attention_dim,
                                                          num_image_text_embeds=cfg.ip_num_tokens)])


class MVVDMUNet(nn.Module):
    """The MV-VDM. ``forward(sample [B, N, F, C, H, W], timestep [B], text [B, L, D], camera [B, N, 4, 4],
    image_embeds [B, N, D_clip])`` -> epsilon [B, N, F, C, H, W]. Frame 0 is the (lightly noised, Eq. 2)
    multi-view conditioning frame; ``image_embeds`` (IP-Adapter) are its CLIP image embeddings, one per view."""

    def __init__(self, cfg: MVVDMConfig):
        super().__init__()
        try:
            from diffusers import UNetMotionModel
            from diffusers.models.attention_processor import Attention
            from diffusers.models.embeddings import TimestepEmbedding
        except ImportError as e:  # pragma: no cover
            from ...errors import MissingDependencyError
            raise MissingDependencyError("diffusers", "the MV-VDM UNet", "pip install 'diffusers>=0.31'") from e
        self.cfg = cfg
        base = UNetMotionModel(
            in_channels=cfg.in_channels, out_channels=cfg.out_channels, down_block_types=tuple(cfg.down_block_types),
            up_block_types=tuple(cfg.up_block_types), block_out_channels=tuple(cfg.block_out_channels),
            layers_per_block=cfg.layers_per_block, cross_attention_dim=cfg.cross_attention_dim,
            num_attention_heads=cfg.num_attention_heads, norm_num_groups=cfg.norm_num_groups,
            motion_num_attention_heads=cfg.motion_num_attention_heads,
            motion_max_seq_length=cfg.motion_max_seq_length, use_motion_mid_block=cfg.use_motion_mid_block)
        for name in ("conv_in", "time_proj", "time_embedding", "down_blocks", "mid_block", "up_blocks",
                     "conv_norm_out", "conv_act", "conv_out"):
            setattr(self, name, getattr(base, name))
        time_dim = cfg.block_out_channels[0] * 4
        self.camera_embedding = TimestepEmbedding(cfg.camera_dim, time_dim)
        self.num_upsamplers = len(cfg.block_out_channels) - 1
        self._layout = _Layout()
        for name, mod in list(self.named_modules()):
            if not isinstance(mod, Attention):
                continue
            width = mod.to_q.in_features
            if "motion_modules" in name:
                if self._spatial_at(name):
                    mod.set_processor(SpatioTemporalAttnProcessor(width, self._layout, cfg.motion_max_seq_length))
            elif name.endswith("attn1"):
                mod.set_processor(MV2VAttnProcessor(width, self._layout, cfg.mv2v, mod.to_q.weight.detach()))
            elif name.endswith("attn2") and cfg.ip_adapter:
                mod.set_processor(_ip_processor(mod, cfg))
        self.encoder_hid_proj = _ip_projection(cfg) if cfg.ip_adapter else None
        for prefix, mm in self.named_motion_modules():  # Animate3D: the frame encoding moves into the processor
            if self._spatial_at(prefix):
                for blk in mm.transformer_blocks:
                    blk.pos_embed = None
        if cfg.zero_init_motion_out:
            with torch.no_grad():
                for mm in self.motion_modules():
                    nn.init.zeros_(mm.proj_out.weight)
                    nn.init.zeros_(mm.proj_out.bias)

    def ip_attention_names(self) -> list:
        """The cross-attentions that carry IP-Adapter weights, in diffusers' ``attn_processors`` order (down
        blocks, up blocks, mid block: the order ``ip-adapter_sd15.bin`` numbers them, 1, 3, 5, ...)."""
        from diffusers.models.attention_processor import Attention
        rank = {"down_blocks": 0, "up_blocks": 1, "mid_block": 2}
        names = [k for k, m in self.named_modules() if isinstance(m, Attention) and k.endswith("attn2")
                 and "motion_modules" not in k]
        return sorted(names, key=lambda k: rank[k.split(".")[0]])

    def set_ip_adapter_scale(self, scale: float) -> None:
        """The weight of the image tokens in every decoupled cross-attention (0 = text only, exactly)."""
        if not self.cfg.ip_adapter:
            raise ValueError("this MV-VDM has no IP-Adapter (cfg.ip_adapter=False)")
        for name in self.ip_attention_names():
            self.get_submodule(name).processor.scale = [float(scale)]

    def project_image_embeds(self, image_embeds: Tensor, n: int, f: int) -> Tensor:
        """CLIP image embeddings [B, N, D] (one per view) or [B, D] (one for all views) -> IP tokens
        [(b n f), 1, T, cross_dim] (``MultiIPAdapterImageProjection`` output, repeated over the frames)."""
        e = image_embeds
        if e.ndim == 2:
            e = e[:, None].expand(e.shape[0], n, e.shape[-1])
        if e.ndim != 3 or e.shape[1] != n or e.shape[-1] != self.cfg.ip_image_embed_dim:
            raise ValueError(f"image_embeds must be [B, {n}, {self.cfg.ip_image_embed_dim}] or "
                             f"[B, {self.cfg.ip_image_embed_dim}], got {tuple(image_embeds.shape)}")
        b = e.shape[0]
        tok = self.encoder_hid_proj([e.reshape(b * n, 1, e.shape[-1])])[0]       # [(b n), 1, T, C]
        return tok[:, None].expand(b * n, f, *tok.shape[1:]).reshape(b * n * f, *tok.shape[1:])

    def _spatial_at(self, name: str) -> bool:
        """Does the motion module under ``name`` get Animate3D's spatial branch?"""
        if not self.cfg.spatial_motion_attn:
            return False
        if self.cfg.spatial_motion_levels is None:
            return True
        n = len(self.cfg.block_out_channels)
        head, idx = name.split(".")[0], name.split(".")[1]
        level = n - 1 if head == "mid_block" else int(idx) if head == "down_blocks" else n - 1 - int(idx)
        return level in self.cfg.spatial_motion_levels

    def named_motion_modules(self) -> list:
        return [(k, m) for k, m in self.named_modules() if k.split(".")[-2:-1] == ["motion_modules"]]

    def motion_modules(self) -> list:
        out = []
        for blk in list(self.down_blocks) + [self.mid_block] + list(self.up_blocks):
            out += list(getattr(blk, "motion_modules", []))
        return out

    def trainable_parameters(self) -> list:
        """Track4DGen / Animate3D train only the MV2V adapter and the spatiotemporal (motion) modules."""
        return [p for k, p in self.named_parameters() if "motion_modules." in k or "_i2v." in k]

    def forward(self, sample: Tensor, timestep: Tensor, encoder_hidden_states: Tensor,
                camera: Tensor | None = None, image_embeds: Tensor | None = None) -> Tensor:
        """image_embeds: the CLIP image embeddings of the views' conditioning frames [B, N, D] (or [B, D]);
        required when ``cfg.ip_adapter`` (as Animate3D's ``added_cond_kwargs["image_embeds"]``)."""
        b, n, f, c, h, w = sample.shape  # [B, N, F, C, H, W]
        if self.cfg.ip_adapter and image_embeds is None:
            raise ValueError("this MV-VDM has an IP-Adapter: pass image_embeds [B, N, D] (the CLIP image "
                             "embeddings of the conditioning views; zeros for the unconditional branch)")
        if not self.cfg.ip_adapter and image_embeds is not None:
            raise ValueError("image_embeds given but this MV-VDM has no IP-Adapter (cfg.ip_adapter=False)")
        lay = self._layout
        lay.n_views, lay.n_frames, lay.latent_hw, lay.samples = n, f, (h, w), b
        t = torch.as_tensor(timestep, device=sample.device)
        t = t.reshape(-1).expand(b) if t.numel() in (1, b) else t
        emb = self.time_embedding(self.time_proj(t).to(sample.dtype))            # [B, Dt]
        emb = emb[:, None].expand(b, n, emb.shape[-1])                           # [B, N, Dt]
        if camera is not None:
            emb = emb + self.camera_embedding(camera.reshape(b, n, -1).to(sample.dtype))
        emb = emb[:, :, None].expand(b, n, f, emb.shape[-1]).reshape(b * n * f, -1)  # [(b n f), Dt]
        ctx = encoder_hidden_states
        if ctx.shape[0] == b:
            ctx = ctx[:, None].expand(b, n * f, *ctx.shape[1:]).reshape(b * n * f, *ctx.shape[1:])
        if image_embeds is not None:  # diffusers' IP-Adapter convention: (text tokens, [image tokens])
            ctx = (ctx, [self.project_image_embeds(image_embeds.to(sample.dtype), n, f)])
        x = self.conv_in(sample.reshape(b * n * f, c, h, w))                      # [(b n f), C0, H, W]
        upsample_size, fwd_up = None, any(s % (2 ** self.num_upsamplers) for s in (h, w))
        res = (x,)
        for blk in self.down_blocks:
            if getattr(blk, "has_cross_attention", False):
                x, r = blk(hidden_states=x, temb=emb, encoder_hidden_states=ctx, num_frames=f)
            else:
                x, r = blk(hidden_states=x, temb=emb, num_frames=f)
            res += r
        x = self.mid_block(x, emb, encoder_hidden_states=ctx, num_frames=f) if hasattr(self.mid_block,
                                                                                      "motion_modules") else \
            self.mid_block(x, emb, encoder_hidden_states=ctx)
        for i, blk in enumerate(self.up_blocks):
            r, res = res[-len(blk.resnets):], res[:-len(blk.resnets)]
            if i < len(self.up_blocks) - 1 and fwd_up:
                upsample_size = res[-1].shape[2:]
            if getattr(blk, "has_cross_attention", False):
                x = blk(hidden_states=x, temb=emb, res_hidden_states_tuple=r, encoder_hidden_states=ctx,
                        upsample_size=upsample_size, num_frames=f)
            else:
                x = blk(hidden_states=x, temb=emb, res_hidden_states_tuple=r, upsample_size=upsample_size,
                        num_frames=f)
        x = self.conv_out(self.conv_act(self.conv_norm_out(x)))
        return x.reshape(b, n, f, *x.shape[1:])


@dataclass
class DDPMSchedule:
    """The DDPM noise schedule, epsilon prediction: 1000 steps, betas 0.00085 -> 0.012. ``beta_schedule``
    "linear" (Animate3D's ``noise_scheduler_kwargs``, AnimateDiff training) or "scaled_linear" (SD-1.5's
    ``scheduler_config.json``: linear on sqrt(beta)); equal to diffusers' ``DDPMScheduler`` of the same name."""
    num_train_timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: str = "linear"
    alphas_cumprod: Tensor = field(default=None, repr=False)

    def __post_init__(self):
        n = self.num_train_timesteps
        if self.beta_schedule == "linear":
            betas = torch.linspace(self.beta_start, self.beta_end, n, dtype=torch.float64)
        elif self.beta_schedule == "scaled_linear":
            betas = torch.linspace(self.beta_start ** 0.5, self.beta_end ** 0.5, n, dtype=torch.float64) ** 2
        else:
            raise ValueError(f"beta_schedule must be 'linear' or 'scaled_linear', got {self.beta_schedule!r}")
        self.alphas_cumprod = torch.cumprod(1 - betas, 0).float()

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:  # t [B] -> broadcast over x0 [B, ...]
        a = self.alphas_cumprod.to(x0.device)[t].reshape(-1, *([1] * (x0.ndim - 1)))
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def x0_from_eps(self, xt: Tensor, eps: Tensor, t: Tensor) -> Tensor:
        a = self.alphas_cumprod.to(xt.device)[t].reshape(-1, *([1] * (xt.ndim - 1)))
        return (xt - (1 - a).sqrt() * eps) / a.sqrt()
