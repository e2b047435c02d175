"""What to compile for each model name: the network, example inputs, shape profiles and repeated blocks.

Names (used by ``articulate compile MODEL``):

* ``sp4d-unet``        SP4D dual-branch UNet (``sdk.models.sp4d.unet.SP4DUNet``), one denoising step
* ``sp4d-vae``         the shared VAE's decoder: scaled latents -> images (alias ``sp4d-vae-decoder``)
* ``sp4d-vae-encoder`` the VAE's encoder: images -> latents (posterior mode)

Each comes in the configurations of ``SP4DConfig`` (``tiny``, ``small``, ``full``). Weights come from an SP4D
checkpoint (``SP4DModel.save`` format) or, for tests and benchmarks only, are random when asked for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import torch
from torch import nn

from sdk.errors import InvalidInputError

from .onnx_export import ShapeProfile, forward_arg_names

# SD 2.1 AutoencoderKL (x8), the latent VAE of SV4D 2.0 at full scale (its temporal decoder is not modelled)
FULL_VAE_CONFIG = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                       up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512),
                       layers_per_block=2, latent_channels=4, norm_num_groups=32, sample_size=576)


class VaeDecode(nn.Module):
    """latents: [M, Cl, h, w] (already divided by the latent scale) -> images [M, 3, H, W] in [-1, 1]"""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode(latents).sample


class VaeEncode(nn.Module):
    """images: [M, 3, H, W] in [-1, 1] -> latents [M, Cl, h, w] (posterior mode, unscaled)"""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.vae.encode(images).latent_dist.mode()


@dataclass
class Target:
    name: str
    module: nn.Module
    inputs: dict[str, torch.Tensor]
    regional: tuple = ()                       # repeated block types for regional torch.compile
    profiles: list[ShapeProfile] = field(default_factory=list)


def _sp4d_configs(config: str):
    from sdk.models.sp4d.model import small_vae_config, tiny_vae_config
    from sdk.models.sp4d.unet import SP4DConfig
    table = {"tiny": (SP4DConfig.tiny, tiny_vae_config), "small": (SP4DConfig.small, small_vae_config),
             "full": (SP4DConfig.full, lambda: dict(FULL_VAE_CONFIG))}
    if config not in table:
        raise InvalidInputError(f"unknown config {config!r}; choose one of {', '.join(table)}", field="config")
    ucfg, vcfg = table[config]
    return ucfg(), vcfg()


def _load_sp4d(checkpoint: Path | None, config: str, random_weights: bool, seed: int, need: str):
    """(unet, vae) from a checkpoint, or random at ``config`` when ``random_weights``."""
    if checkpoint is not None:
        from sdk.models.sp4d.model import SP4DModel
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise InvalidInputError(f"checkpoint not found: {checkpoint}", field="checkpoint")
        m = SP4DModel.load(checkpoint)
        return m.unet, m.vae
    if not random_weights:
        raise InvalidInputError("no weights: pass --checkpoint PATH (an SP4D .safetensors checkpoint), or "
                                "--random-weights to compile random weights (tests, benchmarks)",
                                field="checkpoint")
    ucfg, vcfg = _sp4d_configs(config)
    torch.manual_seed(seed)
    if need == "unet":
        from sdk.models.sp4d.unet import SP4DUNet
        return SP4DUNet(ucfg), None
    from sdk.models.sp4d.model import make_vae
    return None, make_vae(vcfg)


def _unet_target(name, unet, batch, dynamic_batch):
    from diffusers.models.resnet import SpatioTemporalResBlock

    from sdk.models.sp4d.unet import BiDiFuse, SpatialVideoTransformer3D
    names = forward_arg_names(unet)
    inputs = dict(zip(names, unet.example_inputs(batch=batch)))
    profiles = [ShapeProfile.from_inputs(inputs)]
    if dynamic_batch:
        profiles = [ShapeProfile({k: ((1,) + v.shape[1:], tuple(v.shape), (dynamic_batch,) + v.shape[1:])
                                  for k, v in inputs.items()})]
    return Target(name, unet, inputs, (SpatioTemporalResBlock, SpatialVideoTransformer3D, BiDiFuse), profiles)


def _vae_target(name, vae, ucfg, batch, encoder: bool, dynamic_batch):
    f = 2 ** (len(vae.config.block_out_channels) - 1)
    m = batch * ucfg.num_views * ucfg.num_frames
    s = ucfg.latent_size
    g = torch.Generator().manual_seed(0)
    if encoder:
        module, inputs = VaeEncode(vae), {"images": torch.rand(m, 3, s * f, s * f, generator=g) * 2 - 1}
    else:
        module = VaeDecode(vae)
        inputs = {"latents": torch.randn(m, vae.config.latent_channels, s, s, generator=g)}
    profiles = [ShapeProfile.from_inputs(inputs)]
    if dynamic_batch:
        (k, v), = inputs.items()
        hi = dynamic_batch * ucfg.num_views * ucfg.num_frames
        profiles = [ShapeProfile({k: ((1,) + v.shape[1:], tuple(v.shape), (hi,) + v.shape[1:])})]
    return Target(name, module.eval(), inputs, (), profiles)


NAMES: dict[str, str] = {"sp4d-unet": "unet", "sp4d-vae": "vae", "sp4d-vae-decoder": "vae",
                         "sp4d-vae-encoder": "vae-encoder"}


def resolve(name: str, *, config: str = "full", checkpoint: Path | None = None, random_weights: bool = False,
            batch: int = 1, dynamic_batch: int = 0, seed: int = 0) -> Target:
    """Build the :class:`Target` for a model name (see the module docstring)."""
    kind = NAMES.get(name)
    if kind is None:
        raise InvalidInputError(f"unknown model {name!r}; compilable models: {', '.join(NAMES)}", field="model")
    if batch < 1 or (dynamic_batch and dynamic_batch < batch):
        raise InvalidInputError(f"need batch >= 1 and dynamic batch >= batch, got {batch}, {dynamic_batch}",
                                field="batch")
    unet, vae = _load_sp4d(checkpoint, config, random_weights, seed, "unet" if kind == "unet" else "vae")
    if kind == "unet":
        return _unet_target(name, unet.eval(), batch, dynamic_batch)
    ucfg = unet.cfg if unet is not None else _sp4d_configs(config)[0]
    return _vae_target(name, vae, ucfg, batch, kind == "vae-encoder", dynamic_batch)


def list_models() -> list[str]:
    return list(NAMES)

