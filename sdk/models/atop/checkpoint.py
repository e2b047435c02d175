"""Loading the public ImageDream checkpoint layout into ``ATOPUNet`` (and back, for tests).

``sd-v2.1-base-4view-ipmv.pt`` is an sgm/ldm state dict (``torch.load(...)["state_dict"]`` or flat):
``model.diffusion_model.*`` (the multi-view UNet), ``first_stage_model.*`` (the SD VAE, ldm layout),
``cond_stage_model.*`` / ``image_encoder`` (OpenCLIP; not used here: text and image embeddings come in
precomputed or from the small model's own encoders). Inside ``model.diffusion_model``:

* ``time_embed.{0,2}``, ``camera_embed.{0,2}``               -> diffusers ``TimestepEmbedding.linear_{1,2}``
* ``input_blocks.N.0.{in_layers.0, in_layers.2, emb_layers.1, out_layers.0, out_layers.3, skip_connection}``
  (ldm ``ResBlock``)                                         -> ``ResnetBlock2D.{norm1, conv1, time_emb_proj,
  norm2, conv2, conv_shortcut}``
* ``input_blocks.N.0.op`` (``Downsample``)                   -> ``Downsample2D.conv``
* ``*.{norm, proj_in, transformer_blocks.K.{attn1, attn2 (+ to_k_ip, to_v_ip), ff.net.0.proj, ff.net.2,
  norm1..3}, proj_out}`` (``SpatialTransformer3D``), ``output_blocks.N.M.conv`` (``Upsample``), ``out.{0,2}``,
  ``image_embed.*`` (Resampler)                               -> the same names
* ``motion_modules.*`` is ATOP's and not in ImageDream: it lives in ``atop/motion_module_<category>.safetensors``.

``imagedream_to_ours(sd, model)`` and ``ours_to_imagedream(sd, model)`` are inverse maps (tested on tiny
random models); ``load_imagedream(model, path)`` reads a file and reports missing/unexpected keys.
"""
from __future__ import annotations

from pathlib import Path

import torch

PREFIX = "model.diffusion_model."
_RES = {"in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj", "out_layers.0": "norm2",
        "out_layers.3": "conv2", "skip_connection": "conv_shortcut"}
_RES_INV = {v: k for k, v in _RES.items()}
_EMB = {"0": "linear_1", "2": "linear_2"}
_EMB_INV = {v: k for k, v in _EMB.items()}


def _module_kinds(model) -> dict:
    """Our module path -> 'res' | 'down' for the modules whose names differ from ldm's."""
    from diffusers.models.resnet import Downsample2D, ResnetBlock2D
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, ResnetBlock2D):
            out[name] = "res"
        elif isinstance(m, Downsample2D):
            out[name] = "down"
    return out


def _split(key: str, kinds: dict):
    """(module path, kind, rest) for the deepest renamed module containing ``key`` (ours or ldm-style path)."""
    parts = key.split(".")
    for i in range(len(parts) - 1, 0, -1):
        p = ".".join(parts[:i])
        if p in kinds:
            return p, kinds[p], ".".join(parts[i:])
    return None, None, key


def ours_to_imagedream_key(key: str, kinds: dict) -> str:
    for emb in ("time_embed.", "camera_embed."):
        if key.startswith(emb):
            sub, rest = key[len(emb):].split(".", 1)
            return PREFIX + emb + _EMB_INV[sub] + "." + rest
    path, kind, rest = _split(key, kinds)
    if kind == "res":
        mod, leaf = rest.rsplit(".", 1)
        return PREFIX + path + "." + _RES_INV[mod] + "." + leaf
    if kind == "down":
        return PREFIX + path + "." + rest.replace("conv.", "op.", 1)
    return PREFIX + key


def imagedream_to_ours_key(key: str, kinds: dict) -> str:
    if not key.startswith(PREFIX):
        raise KeyError(key)
    k = key[len(PREFIX):]
    for emb in ("time_embed.", "camera_embed."):
        if k.startswith(emb):
            sub, rest = k[len(emb):].split(".", 1)
            return emb + _EMB[sub] + "." + rest
    path, kind, rest = _split(k, kinds)
    if kind == "res":
        for ldm, ours in _RES.items():
            if rest.startswith(ldm + "."):
                return path + "." + ours + rest[len(ldm):]
    if kind == "down":
        return path + "." + rest.replace("op.", "conv.", 1)
    return k


def ours_to_imagedream(sd: dict, model) -> dict:
    """Our base state dict -> ImageDream keys (``model.diffusion_model.*``); motion modules are left out."""
    kinds = _module_kinds(model)
    return {ours_to_imagedream_key(k, kinds): v for k, v in sd.items() if not k.startswith("motion_modules.")}


def imagedream_to_ours(sd: dict, model) -> dict:
    """ImageDream checkpoint (``model.diffusion_model.*``; other prefixes ignored) -> our key names."""
    kinds = _module_kinds(model)
    return {imagedream_to_ours_key(k, kinds): v for k, v in sd.items() if k.startswith(PREFIX)}


def read_state_dict(path: str | Path) -> dict:
    """A ``.safetensors`` file or a torch pickle (``.pt``/``.ckpt``, possibly ``{"state_dict": ...}``)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    return obj.get("state_dict", obj) if isinstance(obj, dict) else obj


def load_imagedream(model, sd_or_path, strict: bool = True) -> dict:
    """Load ImageDream's UNet weights into ``model`` (motion modules untouched). Returns {missing, unexpected}."""
    from ...errors import InvalidInputError
    sd = read_state_dict(sd_or_path) if isinstance(sd_or_path, (str, Path)) else sd_or_path
    ours = imagedream_to_ours(sd, model)
    if not ours:
        raise InvalidInputError(f"no '{PREFIX}*' keys: not an ImageDream/ldm checkpoint", field="checkpoint")
    target = model.base_state_dict()
    missing = sorted(set(target) - set(ours))
    unexpected = sorted(set(ours) - set(target))
    bad = [k for k in set(ours) & set(target) if tuple(ours[k].shape) != tuple(target[k].shape)]
    if strict and (missing or unexpected or bad):
        raise InvalidInputError(
            f"checkpoint does not match the model config: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(bad)} shape mismatches (e.g. {bad[:3]})",
            field="checkpoint")
    model.load_state_dict({k: v for k, v in ours.items() if k in target and k not in bad}, strict=False)
    return {"missing": missing, "unexpected": unexpected, "shape_mismatch": bad}


def save_motion_module(model, path: str | Path) -> None:
    from safetensors.torch import save_file
    from ...util.atomic import atomic_path
    sd = {k: v.detach().contiguous().cpu() for k, v in model.motion_state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(sd, str(tmp))


def load_motion_module(model, path: str | Path) -> None:
    from ...errors import InvalidInputError
    sd = read_state_dict(path)
    target = model.motion_state_dict()
    if set(sd) != set(target) or any(tuple(sd[k].shape) != tuple(target[k].shape) for k in sd):
        raise InvalidInputError(f"{path}: motion module does not match the model config "
                                f"({len(set(target) - set(sd))} missing, {len(set(sd) - set(target))} unexpected keys)",
                                field="checkpoint")
    model.load_state_dict(sd, strict=False)
