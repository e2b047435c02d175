"""How the SP4D networks compile: the module, example inputs, shape profiles and repeated blocks of each component.

The registry (``sdk.models.registry``) declares which names use this builder; ``sdk.models.targets.resolve``
parses ``articulate compile``'s ``MODEL`` (``NAME[:COMPONENT]``) and calls :func:`build_target`:

* ``NAME`` a model of the registry (``sdk.models.registry.MODELS``) with a UNet: ``sp4d-small`` (weights shipped
  with the package, ``SP4DModel.save`` format), ``sp4d`` and ``sv4d2`` (sgm checkpoints at SV4D 2.0 scale, looked
  up in ``settings.weights_dir``; a missing file raises ``MissingWeightsError`` naming it);
* ``COMPONENT`` ``unet`` (default: one denoising step of the dual-branch UNet), ``vae`` (decoder: latents ->
  images) or ``vae-encoder`` (images -> latents, posterior mode).

Shorthands without a registry entry: ``sp4d-unet``, ``sp4d-vae`` (alias ``sp4d-vae-decoder``) and
``sp4d-vae-encoder`` build the architecture of ``--config`` (tiny | small | full) and need ``--checkpoint`` or
``--random-weights``. ``--checkpoint`` accepts either format (detected from the safetensors metadata).
Random weights are for tests and benchmarks only.
"""
from __future__ import annotations

from pathlib import Path
import torch
from torch import nn

from trt_engines.onnx_export import ShapeProfile, forward_arg_names
from trt_engines.targets import Target

from ...errors import InvalidInputError

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


def _sp4d_configs(config: str):
    from .model import small_vae_config, tiny_vae_config
    from .unet import SP4DConfig
    table = {"tiny": (SP4DConfig.tiny, tiny_vae_config), "small": (SP4DConfig.small, small_vae_config),
             "full": (SP4DConfig.full, lambda: dict(FULL_VAE_CONFIG))}
    if config not in table:
        raise InvalidInputError(f"unknown config {config!r}; choose one of {', '.join(table)}", field="config")
    ucfg, vcfg = table[config]
    return ucfg(), vcfg()


def _load_checkpoint(path: Path, cfg_name: str | None):
    """(unet, vae or None) from an SP4DModel.save file or an sgm (SV4D 2.0 / SP4D) state dict."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"checkpoint not found: {path}", field="checkpoint")
    meta = {}
    if path.suffix == ".safetensors":
        from safetensors import safe_open
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
        except Exception as e:  # safetensors' own error type for a file that is not one
            from ...errors import AssetReadError
            raise AssetReadError(path, f"not a .safetensors checkpoint ({e})") from None
    if "sp4d" in meta:
        from .model import SP4DModel
        m = SP4DModel.load(path)
        return m.unet, m.vae
    from .checkpoint import load_file, load_sp4d_state_dict
    from .unet import SP4DUNet
    unet = SP4DUNet(_sp4d_configs(cfg_name or "full")[0])
    load_sp4d_state_dict(unet, load_file(path))
    return unet, None


def _random_sp4d(config: str, seed: int, need: str):
    ucfg, vcfg = _sp4d_configs(config)
    torch.manual_seed(seed)
    if need == "unet":
        from .unet import SP4DUNet
        return SP4DUNet(ucfg), None
    from .model import make_vae
    return None, make_vae(vcfg)


def _unet_target(name, unet, batch, dynamic_batch):
    from diffusers.models.resnet import SpatioTemporalResBlock

    from .unet import BiDiFuse, SpatialVideoTransformer3D
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


COMPONENTS = ("unet", "vae", "vae-encoder")
#: the architecture each registry model compiles with by default
REGISTRY_CONFIG = {"sp4d-small": "small", "sp4d": "full", "sv4d2": "full"}


def build_target(name: str, kind: str, cfg_name: str, *, weights: Path | None, config: str | None,
                 checkpoint: Path | None, random_weights: bool, batch: int, dynamic_batch: int, seed: int) -> Target:
    """The :class:`Target` of one SP4D component (``kind``: unet | vae | vae-encoder). Weights come from
    ``checkpoint``, random (``random_weights``) or the registry file ``weights`` (a callable finding it)."""
    need = "unet" if kind == "unet" else "vae"
    if checkpoint is not None:
        unet, vae = _load_checkpoint(Path(checkpoint), config)
    elif random_weights:
        unet, vae = _random_sp4d(cfg_name, seed, need)
    elif weights is not None:
        unet, vae = _load_checkpoint(weights(), cfg_name)  # MissingWeightsError names the file
    else:
        raise InvalidInputError("no weights: pass --checkpoint PATH (an SP4D .safetensors checkpoint), or "
                                "--random-weights to compile random weights (tests, benchmarks)",
                                field="checkpoint")
    if kind == "unet":
        return _unet_target(name, unet.eval(), batch, dynamic_batch)
    if vae is None:
        raise InvalidInputError(f"{name}: this checkpoint carries no VAE we load (sgm first_stage_model is not "
                                "mapped); compile the VAE from an SP4DModel checkpoint or with --random-weights",
                                field="checkpoint")
    ucfg = unet.cfg if unet is not None else _sp4d_configs(cfg_name)[0]
    return _vae_target(name, vae, ucfg, batch, kind == "vae-encoder", dynamic_batch)
