"""CogVideoX as AKD's video prior (§4.3): v-prediction SDS through diffusers' CogVideoX classes.

Layouts (the traps of spec §6.8): the VAE takes ``[B, 3, F, H, W]`` in [−1, 1] and is a *3D* causal VAE (frames are
never flattened into images); F must be 1 or 4k+1 and H, W multiples of 16; latents are scaled by the VAE's
``scaling_factor`` (0.7 for 5B) and permuted to the transformer's ``[B, T_lat, C, h, w]`` (frames before channels);
the transformer output is **v**, not ε; 5B needs 3D RoPE (``use_rotary_positional_embeddings``).

Checkpoint layout (the public diffusers repo ``THUDM/CogVideoX-5b``): ``model_index.json``,
``scheduler/scheduler_config.json``, ``transformer/``, ``vae/`` (+ ``text_encoder/``, ``tokenizer/`` for T5, which
we do not load: pass precomputed ``prompt_embeds [1, 226, 4096]``, e.g. from ``text_encoder`` once, then free it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ...errors import InvalidInputError, MissingDependencyError, MissingWeightsError
from ...motion.sds import LatentSDS, TimestepSchedule

MODEL_NAME = "cogvideox-5b"


def _diffusers():
    try:
        import diffusers
    except ImportError as e:  # pragma: no cover
        raise MissingDependencyError("diffusers", "CogVideoX guidance") from e
    return diffusers


def default_dir() -> Path:
    from ...config import settings
    return Path(settings.weights_dir) / MODEL_NAME


def _registry_files() -> list[str]:
    """The checkpoint's files as the model registry lists them (the one list ``articulate models`` shows)."""
    from ..registry import MODELS
    return [f.filename for f in MODELS[MODEL_NAME].files]


def check_checkpoint(path) -> Path:
    """The checkpoint directory, or one MissingWeightsError naming the first missing file (a file of the registry's
    list for ``cogvideox-5b``; weight shards may be split: any *.safetensors / *.bin in their folder will do)."""
    p = Path(path)
    for name in _registry_files():
        rel = name[len(MODEL_NAME) + 1:]
        if rel.endswith(".json"):
            ok = (p / rel).is_file()
        else:
            sub = p / Path(rel).parent
            ok = any(sub.glob("*.safetensors")) or any(sub.glob("*.bin"))
        if not ok:
            raise MissingWeightsError(MODEL_NAME, name, str(p.parent),
                                      hint="download the diffusers layout of THUDM/CogVideoX-5b (model_index.json, "
                                           "scheduler/, transformer/, vae/) into that folder")
    return p


def check_video_shape(frames: int, height: int, width: int):
    if not (frames == 1 or (frames - 1) % 4 == 0):
        raise InvalidInputError(f"CogVideoX needs 1 or 4k+1 frames, got {frames} (e.g. 9, 13, 49)", field="frames")
    if height % 16 or width % 16:
        raise InvalidInputError(f"CogVideoX needs a height and width that are multiples of 16, got {height}x{width}",
                                field="size")


@dataclass
class CogVideoXGuidanceConfig:
    guidance_scale: float = 7.5  # ours: the paper's ω is blank (CogVideoX pipeline default 6, TC4D 100)
    weighting: str = "one"  # ours: w(t) = 1 (x₀-form)
    gradient_checkpointing: bool = True  # §4.3: checkpoint the VAE encoder
    schedule: TimestepSchedule | None = None


class CogVideoXGuidance:
    def __init__(self, transformer, vae, scheduler, prompt_embeds: Tensor, negative_embeds: Tensor | None = None,
                 cfg: CogVideoXGuidanceConfig | None = None, generator: torch.Generator | None = None):
        self.cfg = cfg or CogVideoXGuidanceConfig()
        self.transformer, self.vae, self.scheduler = transformer, vae, scheduler
        for m in (transformer, vae):
            m.requires_grad_(False)
            m.eval()
        if self.cfg.gradient_checkpointing:
            vae.enable_gradient_checkpointing()
        self.prompt_embeds = prompt_embeds
        self.negative_embeds = torch.zeros_like(prompt_embeds) if negative_embeds is None else negative_embeds
        ac = scheduler.alphas_cumprod.to(torch.float32)
        sched = self.cfg.schedule or TimestepSchedule(num_train_timesteps=len(ac))
        self.sds = LatentSDS(self.encode, self.predict_v, ac, sched, self.cfg.guidance_scale, self.cfg.weighting,
                             generator)
        self.last_input_shape: tuple | None = None  # what the transformer saw (tests check the layout)

    @classmethod
    def from_pretrained(cls, path=None, *, prompt_embeds: Tensor | None = None, negative_embeds: Tensor | None = None,
                        torch_dtype=torch.bfloat16, device="cpu", cfg: CogVideoXGuidanceConfig | None = None,
                        generator=None) -> "CogVideoXGuidance":
        d = _diffusers()
        p = check_checkpoint(path or default_dir())
        transformer = d.CogVideoXTransformer3DModel.from_pretrained(p, subfolder="transformer", torch_dtype=torch_dtype)
        vae = d.AutoencoderKLCogVideoX.from_pretrained(p, subfolder="vae", torch_dtype=torch_dtype)
        scheduler = d.CogVideoXDDIMScheduler.from_pretrained(p, subfolder="scheduler")
        if prompt_embeds is None:
            raise InvalidInputError("CogVideoX guidance needs precomputed T5 prompt_embeds [1, 226, 4096] "
                                    "(text_encoder is not loaded by the SDK)", field="prompt_embeds")
        return cls(transformer.to(device), vae.to(device), scheduler, prompt_embeds.to(device, torch_dtype),
                   None if negative_embeds is None else negative_embeds.to(device, torch_dtype), cfg, generator)

    # ------------------------------------------------------------------------------------------------------------
    def encode(self, video: Tensor) -> Tensor:
        """[B, 3, F, H, W] in [−1, 1] -> latents [B, T_lat, C, h, w] × scaling_factor (differentiable)."""
        B, C, F, H, W = video.shape
        check_video_shape(F, H, W)
        dt = next(self.vae.parameters()).dtype
        lat = self.vae.encode(video.to(dt)).latent_dist.mean  # deterministic (the mode), as in the spec's test
        lat = lat * self.vae.config.scaling_factor
        return lat.permute(0, 2, 1, 3, 4).contiguous()

    def _rope(self, T_lat: int, h: int, w: int, device):
        cfg = self.transformer.config
        if not cfg.use_rotary_positional_embeddings:
            return None
        from diffusers.models.embeddings import get_3d_rotary_pos_embed
        p = cfg.patch_size
        gh, gw = h // p, w // p
        if cfg.patch_size_t is None:
            crops = get_resize_crop_region_for_grid((gh, gw), cfg.sample_width // p, cfg.sample_height // p)
            return get_3d_rotary_pos_embed(embed_dim=cfg.attention_head_dim, crops_coords=crops, grid_size=(gh, gw),
                                           temporal_size=T_lat, device=device)
        return get_3d_rotary_pos_embed(embed_dim=cfg.attention_head_dim, crops_coords=None, grid_size=(gh, gw),
                                       temporal_size=(T_lat + cfg.patch_size_t - 1) // cfg.patch_size_t,
                                       grid_type="slice", max_size=(cfg.sample_height // p, cfg.sample_width // p),
                                       device=device)

    def predict_v(self, z_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """(v̂_uncond, v̂_cond) for latents [B, T_lat, C, h, w] (one batched call for both CFG branches)."""
        B, T_lat, C, h, w = z_t.shape
        self.last_input_shape = tuple(z_t.shape)
        dt = next(self.transformer.parameters()).dtype
        x = torch.cat([z_t, z_t]).to(dt)
        emb = torch.cat([self.negative_embeds.expand(B, -1, -1), self.prompt_embeds.expand(B, -1, -1)]).to(dt)
        rope = self._rope(T_lat, h, w, z_t.device)
        out = self.transformer(hidden_states=x, encoder_hidden_states=emb, timestep=torch.cat([t, t]).to(z_t.device),
                               image_rotary_emb=rope, return_dict=False)[0].to(z_t.dtype)
        return out[:B], out[B:]

    def loss(self, video01: Tensor, it: int) -> Tensor:
        """video01: [B, 3, F, H, W] in [0, 1]."""
        return self.sds.loss(video01, it)


def get_resize_crop_region_for_grid(src, tgt_width, tgt_height):
    """As ``diffusers.pipelines.cogvideo.pipeline_cogvideox`` (that module imports transformers, which we do not need)."""
    tw, th = tgt_width, tgt_height
    h, w = src
    if h / w > th / tw:
        rh, rw = th, int(round(th / h * w))
    else:
        rw, rh = tw, int(round(tw / w * h))
    top, left = int(round((th - rh) / 2.0)), int(round((tw - rw) / 2.0))
    return (top, left), (top + rh, left + rw)


def weights_present(path=None) -> bool:
    try:
        check_checkpoint(path or default_dir())
        return True
    except MissingWeightsError:
        return False
