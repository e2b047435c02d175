"""Model registry: configs, tiny test configs, expected weight files and where they are looked up.

Weight files are searched in ``settings.weights_dir`` (``ARTICULATE_WEIGHTS_DIR``) first, then in the
weights shipped with the package (``sdk/assets/weights``). A missing required file raises
``MissingWeightsError`` naming the file and the directory to put it in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import settings
from ..errors import MissingWeightsError

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "assets" / "weights"


@dataclass
class WeightFile:
    filename: str
    description: str
    bundled: bool = False      # shipped inside the package


@dataclass
class ModelSpec:
    name: str
    description: str
    config: Callable | None = None
    tiny_config: Callable | None = None
    files: list = field(default_factory=list)
    source: str = ""


def _sp4d_cfg(kind):
    def f():
        from .sp4d.unet import SP4DConfig
        return getattr(SP4DConfig, kind)()
    return f


def _sg4d_cfg(kind: str, **kw):
    def f():
        from .shapegen4d import DiTConfig, VAEConfig
        return {"vae": VAEConfig, "vae-tiny": VAEConfig.tiny, "dit": lambda: DiTConfig(**kw),
                "dit-tiny": lambda: DiTConfig.tiny(**kw), "hunyuan": DiTConfig.hunyuan3d2}[kind]()
    return f


MODELS: dict[str, ModelSpec] = {
    "sp4d-small": ModelSpec(
        "sp4d-small", "SP4D trained here on procedural articulated objects (64^2, 4 views x 4 frames); "
        "default of `articulate parts`", _sp4d_cfg("small"), _sp4d_cfg("tiny"),
        [WeightFile("sp4d_small.safetensors", "UNet (both branches + BiDiFuse), context encoder and VAE, fp16", True)],
        "python -m sdk.models.sp4d.train (see docs/models.md)"),
    "sp4d": ModelSpec(
        "sp4d", "SP4D at SV4D 2.0 scale (4 views x 12 frames, 576^2 -> 72^2 latents); sgm checkpoint layout",
        _sp4d_cfg("full"), _sp4d_cfg("tiny"),
        [WeightFile("sp4d.safetensors", "SP4D sgm state dict (model.diffusion_model[_part].*, bidifuse.*)")],
        "Stability AI SP4D release (not downloadable here)"),
    "sv4d2": ModelSpec(
        "sv4d2", "SV4D 2.0 (stage-1 initialisation of both SP4D branches)", _sp4d_cfg("full"), _sp4d_cfg("tiny"),
        [WeightFile("sv4d2.safetensors", "SV4D 2.0 sgm state dict (model.diffusion_model.*)")],
        "huggingface.co/stabilityai/sv4d2.0"),
    "step1x3d-vae": ModelSpec(
        "step1x3d-vae", "Step1X-3D VecSet VAE (191 M; ShapeGen4D's shape VAE, aligned latents)",
        _sg4d_cfg("vae"), _sg4d_cfg("vae-tiny"),
        [WeightFile("step1x-3d-geometry/vae/diffusion_pytorch_model.safetensors", "Step1X-3D VAE state dict")],
        "huggingface.co/stepfun-ai/Step1X-3D (Apache-2.0)"),
    "step1x3d-dit": ModelSpec(
        "step1x3d-dit", "Step1X-3D FLUX-style shape DiT (1.3 B); ShapeGen4D adds zero-init spatiotemporal layers",
        _sg4d_cfg("dit", st_layers=True), _sg4d_cfg("dit-tiny", st_layers=True),
        [WeightFile("step1x-3d-geometry/transformer/diffusion_pytorch_model.safetensors",
                    "Step1X-3D transformer state dict (file name by diffusers convention, unverified)")],
        "huggingface.co/stepfun-ai/Step1X-3D (Apache-2.0)"),
    "hunyuan3d2-dit": ModelSpec(
        "hunyuan3d2-dit", "Hunyuan3D-2.0 DiT (1.1 B, BFL layout) as a second loadable layout",
        _sg4d_cfg("hunyuan"), None,
        [WeightFile("hunyuan3d-dit-v2-0/model.fp16.safetensors", "Hunyuan3DDiT state dict (BFL names)")],
        "huggingface.co/tencent/Hunyuan3D-2 (Tencent Hunyuan 3D 2.0 Community licence; excludes EU/UK/KR)"),
    "sam-vit-b": ModelSpec(
        "sam-vit-b", "Segment Anything ViT-B for SP4D back-mapping (optional; colour clustering otherwise)",
        None, None, [WeightFile("sam_vit_b_01ec64.pth", "SAM ViT-B checkpoint")],
        "github.com/facebookresearch/segment-anything"),
}


def find_weight(filename: str) -> Path | None:
    """First existing location of a weight file, or None."""
    for d in (Path(settings.weights_dir), BUNDLED_DIR):
        p = d / filename
        if p.is_file():
            return p
    return None


def require_weight(model: str, filename: str | None = None) -> Path:
    """Path of a model's weight file; raises MissingWeightsError naming the file and directory."""
    spec = get_model(model)
    fname = filename or spec.files[0].filename
    p = find_weight(fname)
    if p is None:
        raise MissingWeightsError(model, fname, str(settings.weights_dir), hint=f"source: {spec.source}" if spec.source else "")
    return p


def get_model(name: str) -> ModelSpec:
    if name not in MODELS:
        from ..errors import InvalidInputError
        raise InvalidInputError(f"unknown model {name!r}; known: {', '.join(MODELS)}", field="model")
    return MODELS[name]


def status() -> list[dict]:
    """One row per (model, file): name, file, present, path."""
    rows = []
    for spec in MODELS.values():
        for wf in spec.files:
            p = find_weight(wf.filename)
            rows.append({"model": spec.name, "file": wf.filename, "present": p is not None,
                         "path": str(p) if p else str(Path(settings.weights_dir) / wf.filename),
                         "description": spec.description})
    return rows
