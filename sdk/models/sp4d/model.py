"""The packaged SP4D model: dual-branch UNet + context encoder + one shared VAE, with save/load and inference.

The small model trained here (``SP4DConfig.small()``) uses a small diffusers ``AutoencoderKL`` (x4
downsampling) trained on the same renders; the full SV4D 2.0 / SP4D scale uses the SD 2.1 VAE (x8) with
SVD's temporal decoder (``AutoencoderKLTemporalDecoder``) and OpenCLIP context (see ``registry.py``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .sampler import karras_sigmas, precondition, sample_edm
from .unet import SP4DConfig, SP4DUNet


def small_vae_config() -> dict:
    return dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 3,
                up_block_types=("UpDecoderBlock2D",) * 3, block_out_channels=(32, 64, 64), layers_per_block=1,
                latent_channels=4, norm_num_groups=32, sample_size=64)


def tiny_vae_config() -> dict:
    return dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(32, 32), layers_per_block=1,
                latent_channels=4, norm_num_groups=32, sample_size=16)


def make_vae(cfg: dict) -> nn.Module:
    from diffusers import AutoencoderKL
    return AutoencoderKL(**cfg)


class ContextEncoder(nn.Module):
    """Per-frame context vectors from the condition latents (stands in for SV4D's CLIP image embedding).

    cond_latent: [B, T, Cl, h, w] -> [B, T, context_dim]
    """

    def __init__(self, latent_channels: int, context_dim: int, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(latent_channels, width, 3, stride=2, padding=1), nn.SiLU(),
                                 nn.Conv2d(width, width, 3, stride=2, padding=1), nn.SiLU())
        self.proj = nn.Linear(width, context_dim)

    def forward(self, cond_latent: Tensor) -> Tensor:
        b, t = cond_latent.shape[:2]
        h = self.net(cond_latent.flatten(0, 1)).mean(dim=(2, 3))
        return self.proj(h).reshape(b, t, -1)


@dataclass
class ModelMeta:
    unet: dict
    vae: dict
    latent_scale: float = 1.0
    parameterization: str = "edm"
    image_size: int = 64
    elevation: float = 0.35
    camera_radius: float = 2.4
    fov_deg: float = 40.0
    part_color_range: tuple = (0.05, 0.85)
    rgb_given_prob: float = 0.0      # share of stage-2 samples trained with the RGB half clean (known views)
    trained: dict | None = None


class SP4DModel(nn.Module):
    def __init__(self, cfg: SP4DConfig, vae_cfg: dict, meta: ModelMeta | None = None):
        super().__init__()
        self.cfg = cfg
        self.unet = SP4DUNet(cfg)
        self.context_encoder = ContextEncoder(cfg.latent_channels, cfg.context_dim)
        self.vae = make_vae(vae_cfg)
        self.meta = meta or ModelMeta(unet=cfg.to_dict(), vae=vae_cfg)

    @property
    def net(self):
        """The UNet as the configured backend runs it (``settings.backend``: eager, torch_compile, onnxruntime,
        tensorrt), built at first call through the engine cache, falling back to eager with a warning."""
        net = self.__dict__.get("_net")
        if net is None or net.module is not self.unet:
            from trt_engines.select import LazyBackend
            net = self.__dict__["_net"] = LazyBackend(self.unet, model="sp4d")
        return net

    # ---- latents
    def encode(self, images: Tensor) -> Tensor:
        """images [M, 3, H, W] in [0, 1] -> scaled latents [M, Cl, h, w] (posterior mode)"""
        z = self.vae.encode(images * 2 - 1).latent_dist.mode()
        return z * self.meta.latent_scale

    def decode(self, latents: Tensor) -> Tensor:
        """scaled latents [M, Cl, h, w] -> images [M, 3, H, W] in [0, 1]"""
        return ((self.vae.decode(latents / self.meta.latent_scale).sample + 1) / 2).clamp(0, 1)

    def denoiser(self, cond_latent: Tensor, camera: Tensor, cond_aug: Tensor, clean_rgb: bool = False):
        """D(x, sigma) for x [B, V, T, 2Cl, h, w]; with ``clean_rgb`` the RGB half is taken as clean (noise level 0)."""
        context = self.context_encoder(cond_latent)
        cl = self.cfg.latent_channels

        def fn(x, sigma):
            sx = None
            if clean_rgb:
                sx = sigma.view(-1, 1, 1, 1, 1, 1).repeat(1, 1, 1, 2 * cl, 1, 1)
                sx[:, :, :, :cl] = 0
            return precondition(self.net, x, sigma, cond_latent, context, camera, cond_aug,
                                parameterization=self.meta.parameterization, sigma_x=sx)
        return fn

    @torch.no_grad()
    def generate(self, rgb_views: Tensor | None, cond_video: Tensor, camera: Tensor, steps: int = 12,
                 heun: bool = False, seed: int = 0, sigma_max: float | None = None, progress=None,
                 sdedit_sigma: float | None = None, clean_rgb: bool | None = None) -> tuple[Tensor, Tensor]:
        """Sample RGB and part-encoding videos for every view.

        cond_video: [B, T, 3, H, W] monocular input video in [0, 1] (view 0)
        camera: [B, V, 2] (polar, azimuth relative to the input view)
        rgb_views: optional [B, V, T, 3, H, W]: known RGB of every view; the RGB branch is then held at these
            (noised to each step's level) and only the part branch is generated (used for meshes we can render)
        clean_rgb: with rgb_views, hold the RGB half at the clean known latents at every step (noise level 0 for
            that half, so the part branch sees the full views through BiDiFuse at every noise level) instead of
            the known latents noised to each step's level (inpainting). Default: clean when the model was trained
            with RGB-given samples (``meta.rgb_given_prob > 0``), which it needs to make use of them.
        sigma_max: first noise level (default 40, or 10 in the clean-RGB mode)
        sdedit_sigma: with rgb_views, start the part branch from the RGB latents noised to this level instead of
            from pure noise at sigma_max (both encodings share the white background; the model recolours the object)
        returns (rgb [B, V, T, 3, H, W], parts [B, V, T, 3, H, W]) in [0, 1]
        """
        cfg = self.cfg
        b, t = cond_video.shape[:2]
        v, cl, s = cfg.num_views, cfg.latent_channels, cfg.latent_size
        dev = cond_video.device
        cond_lat = self.encode(cond_video.flatten(0, 1)).reshape(b, t, cl, s, s)
        cond_aug = torch.full((b,), 0.02, device=dev)
        if clean_rgb is None:
            clean_rgb = self.meta.rgb_given_prob > 0
        clean_rgb = bool(clean_rgb and rgb_views is not None)
        if sigma_max is None:
            sigma_max = 10.0 if clean_rgb else 40.0
        fn = self.denoiser(cond_lat, camera, cond_aug, clean_rgb)
        g = torch.Generator(device=dev).manual_seed(seed)
        shape = (b, v, t, 2 * cl, s, s)
        noise = torch.randn(shape, generator=g, device=dev)
        known = mask = None
        if rgb_views is not None:
            known = torch.zeros(shape, device=dev)
            known[:, :, :, :cl] = self.encode(rgb_views.flatten(0, 2)).reshape(b, v, t, cl, s, s)
            mask = torch.zeros(shape, device=dev)
            mask[:, :, :, :cl] = 1
        init = None
        if rgb_views is not None and sdedit_sigma is not None:
            sigma_max = sdedit_sigma
            init = known.clone()
            init[:, :, :, cl:] = known[:, :, :, :cl]
        sig = karras_sigmas(steps, sigma_max=sigma_max, device=dev)
        x = sample_edm(fn, noise, sig, heun=heun, known=known, known_mask=mask, generator=g, progress=progress,
                       init=init, known_noise=not clean_rgb)
        imgs = self.decode(x.reshape(b * v * t * 2, cl, s, s)).reshape(b, v, t, 2, 3, s * self.factor, s * self.factor)
        return imgs[:, :, :, 0], imgs[:, :, :, 1]

    @property
    def factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    # ---- files
    def save(self, path, dtype=torch.float16) -> Path:
        from safetensors.torch import save_file
        from ...util.atomic import atomic_path
        sd = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
              for k, v in self.state_dict().items()}
        meta = dict(self.meta.__dict__)
        with atomic_path(path) as tmp:
            save_file(sd, str(tmp), metadata={"sp4d": json.dumps(meta)})
        return Path(path)

    @classmethod
    def load(cls, path, device="cpu") -> "SP4DModel":
        from safetensors import safe_open
        from safetensors.torch import load_file
        from ...errors import AssetReadError
        if not Path(path).is_file():
            raise AssetReadError(path, "no such SP4D weights file" + (" (it is a folder)" if Path(path).is_dir() else ""))
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {})["sp4d"])
        except KeyError:
            raise AssetReadError(path, "not an SP4D weights file (a .safetensors without 'sp4d' metadata, "
                                       "written by SP4DModel.save)") from None
        except Exception as e:  # safetensors raises its own error type for a non-safetensors file
            raise AssetReadError(path, f"not a .safetensors weights file ({e})") from None
        cfg = SP4DConfig.from_dict(meta["unet"])
        vae_cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["vae"].items()}
        m = ModelMeta(**{**meta, "vae": vae_cfg})
        model = cls(cfg, vae_cfg, m)
        sd = load_file(str(path))
        model.load_state_dict({k: v.float() for k, v in sd.items()})
        return model.to(device).eval()
