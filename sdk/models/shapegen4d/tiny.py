"""The tiny ShapeGen4D trained here (``python -m sdk.models.shapegen4d.train``) and its loader.

Checkpoint layout (the real loaders' layout, under ``<weights>/shapegen4d-tiny/``)::

    config.json                                        TinyConfig (VAE / DiT / encoder configs, latent scale, ...)
    vae/diffusion_pytorch_model.safetensors            VecSetVAE   (read by checkpoint.load_step1x3d_vae)
    transformer/diffusion_pytorch_model.safetensors    ShapeDiT with ST layers (checkpoint.load_step1x3d_dit)
    condition_encoder/diffusion_pytorch_model.safetensors   VideoEncoder (ours; stands in for DINOv2)

What it can reconstruct: one object seen from the front in an orthographic silhouette (optionally depth) video at
48^2 whose shape is like its procedural training families (chains of 1-4 capsules animated by forward kinematics,
growing chains, 2-3 merging blobs), as a watertight mesh per frame in [-1, 1]^3. What it cannot: real objects,
textures or colours, thin or detailed geometry, other views or perspective cameras, anything outside those families.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from .dit import DiTConfig, ShapeDiT
from .vae import VAEConfig, VecSetVAE
from .video_encoder import VideoEncoder, VideoEncoderConfig

NAME = "shapegen4d-tiny"
FILES = ("config.json", "vae/diffusion_pytorch_model.safetensors", "transformer/diffusion_pytorch_model.safetensors",
         "condition_encoder/diffusion_pytorch_model.safetensors")
SCOPE = ("tiny ShapeGen4D trained on procedural capsule chains / growing chains / merging blobs: reconstructs one "
         "object's silhouette video (front, orthographic) as a mesh sequence of such shapes; it cannot reconstruct "
         "real objects, textures, fine detail or other camera set-ups")


def tiny_vae_config() -> VAEConfig:
    return VAEConfig(width=96, heads=4, num_encoder_layers=1, num_decoder_layers=3, embed_dim=8, num_latents=128,
                     with_sharp_data=False)


def tiny_dit_config(**kw) -> DiTConfig:
    base = dict(in_channels=8, width=96, num_heads=4, num_layers=1, num_single_layers=2, cross_attention_dim=64,
                st_layers=True)
    return DiTConfig(**{**base, **kw})


@dataclass
class TinyConfig:
    vae: VAEConfig = field(default_factory=tiny_vae_config)
    dit: DiTConfig = field(default_factory=tiny_dit_config)
    encoder: VideoEncoderConfig = field(default_factory=VideoEncoderConfig)
    frames: int = 8  # frames per generated window
    latent_scale: float = 1.0  # z_dit = latent_scale * z_vae (unit variance for the DiT)
    tsdf_delta: float = 0.05  # ours: TSDF = clamp(sdf / delta, -1, 1)
    sample_steps: int = 20  # ours (the paper states none)
    shift: float = 2.0  # ours: §5.2 time shift at inference (value not given in the paper)
    bounds: float = 1.0

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> "TinyConfig":
        return TinyConfig(vae=VAEConfig(**d["vae"]), dit=DiTConfig(**d["dit"]),
                          encoder=VideoEncoderConfig(**{k: tuple(v) if isinstance(v, list) else v
                                                        for k, v in d["encoder"].items()}),
                          **{k: v for k, v in d.items() if k not in ("vae", "dit", "encoder")})


class TinyShapeGen4D(nn.Module):
    def __init__(self, cfg: TinyConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or TinyConfig()
        self.vae = VecSetVAE(cfg.vae)
        self.dit = ShapeDiT(cfg.dit)
        self.encoder = VideoEncoder(cfg.encoder)

    @torch.no_grad()
    def sample_latents(self, video: Tensor, *, seed: int = 0, shared_noise: bool = True,
                       steps: int | None = None) -> Tensor:
        """video [B, T, 2, H, W] -> VAE latents [B, T, L, C] (rectified-flow Euler sampling, §3.2 shared noise)."""
        from .sampler import rf_sample
        cond = self.encoder(video)
        B, T = video.shape[:2]
        g = torch.Generator(device=video.device).manual_seed(seed)
        shape = (B, T, self.cfg.vae.num_latents, self.cfg.vae.embed_dim)
        from .sampler import noise_like
        noise = noise_like(torch.zeros(shape, device=video.device), shared_noise, g)
        z = rf_sample(self.dit, shape, cond, steps=steps or self.cfg.sample_steps, shift=self.cfg.shift,
                      noise=noise)
        return z / self.cfg.latent_scale

    @torch.no_grad()
    def tsdf(self, z: Tensor, xyz: Tensor, chunk: int = 131072) -> Tensor:
        """z [B, L, C] latents, xyz [B, P, 3] -> TSDF [B, P] (negative inside)."""
        feats = self.vae.decode(z)
        return torch.cat([self.vae.query(xyz[:, i:i + chunk], feats) for i in range(0, xyz.shape[1], chunk)], 1)

    @torch.no_grad()
    def meshes(self, z: Tensor, resolution: int = 96, progress=None) -> list:
        """z [T, L, C] -> one ``Mesh`` per frame (hierarchical grid decode + marching cubes)."""
        from .extract import extract_mesh
        out = []
        for t in range(z.shape[0]):
            feats = self.vae.decode(z[t:t + 1])
            out.append(extract_mesh(lambda p: self.vae.query(p[None], feats)[0], bounds=self.cfg.bounds,
                                    resolution=resolution, coarse=max(16, resolution // 3), device=z.device))
            if progress is not None:
                progress((t + 1) / z.shape[0], f"decoded frame {t + 1}/{z.shape[0]}")
        return out

    @torch.no_grad()
    def reconstruct(self, video: Tensor, *, seed: int = 0, resolution: int = 96, progress=None) -> list:
        """video [T, 2, H, W] (any T) -> list of T meshes. Windows of ``cfg.frames`` frames, the last one padded by
        repeating its final frame."""
        T, W = video.shape[0], self.cfg.frames
        zs = []
        for s in range(0, T, W):
            win = video[s:s + W]
            n = win.shape[0]
            if n < W:
                win = torch.cat([win, win[-1:].expand(W - n, *win.shape[1:])], 0)
            zs.append(self.sample_latents(win[None], seed=seed)[0, :n])
        return self.meshes(torch.cat(zs, 0), resolution, progress)


# ------------------------------------------------------------------------------------------------ save / load
def save_tiny(model: TinyShapeGen4D, root: str | Path, dtype=torch.float16) -> Path:
    """Write the checkpoint folder ``root/shapegen4d-tiny`` (see module doc)."""
    from safetensors.torch import save_file
    d = Path(root) / NAME
    for sub in ("vae", "transformer", "condition_encoder"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(model.cfg.to_json(), indent=1))
    for sub, m in (("vae", model.vae), ("transformer", model.dit), ("condition_encoder", model.encoder)):
        sd = {k: v.detach().to("cpu", dtype).contiguous() for k, v in m.state_dict().items()}
        save_file(sd, str(d / sub / "diffusion_pytorch_model.safetensors"))
    return d


def load_tiny(path: str | Path | None = None, device="cpu") -> TinyShapeGen4D:
    """From a checkpoint folder, or (None) the registry entry ``shapegen4d-tiny`` (``ARTICULATE_WEIGHTS_DIR`` first, then
    the bundled weights); a missing file is a ``MissingWeightsError`` naming it."""
    from .checkpoint import load_file, load_step1x3d_dit, load_step1x3d_vae
    if path is None:
        from ..registry import require_weight
        files = [require_weight(NAME, f"{NAME}/{f}") for f in FILES]
    else:
        d = Path(path)
        files = [d / f for f in FILES]
        for f, p in zip(FILES, files):
            if not p.is_file():
                from ...errors import MissingWeightsError
                raise MissingWeightsError(NAME, f, str(d))
    cfg = TinyConfig.from_json(json.loads(Path(files[0]).read_text()))
    m = TinyShapeGen4D(cfg)

    def sd(p):
        return {k: v.float() for k, v in load_file(p).items()}
    load_step1x3d_vae(m.vae, sd(files[1]), str(files[1]))
    load_step1x3d_dit(m.dit, sd(files[2]), str(files[2]))
    from .checkpoint import _strict
    _strict(m.encoder, sd(files[3]), str(files[3]))
    return m.to(device).eval()


def occupancy_iou(a: np.ndarray | Tensor, b: np.ndarray | Tensor) -> float:
    """Volume IoU of two boolean occupancy grids."""
    a, b = torch.as_tensor(a).bool(), torch.as_tensor(b).bool()
    u = (a | b).sum().item()
    return float((a & b).sum().item() / u) if u else 1.0
