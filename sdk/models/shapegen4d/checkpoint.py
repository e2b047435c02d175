"""Checkpoint layouts for the ShapeGen4D building blocks, each with its inverse (for tests).

* ``step1x3d_vae``: ``<dir>/vae/diffusion_pytorch_model.safetensors``; keys are :class:`VecSetVAE`'s, optionally under
  ``shape_model.`` with the older sharp-branch names (``input_proj1`` / ``cross_attn1`` -> ``*_sharp``), as Step1X-3D's
  own loader accepts.
* ``step1x3d_dit``: ``<dir>/transformer/diffusion_pytorch_model.safetensors`` (file name by diffusers convention,
  unverified); :class:`ShapeDiT` keys, optionally under ``dit_model.`` (``FluxDenoiser``).
* ``hunyuan3d2_dit``: BFL-FLUX names (``latent_in``, ``time_in.in_layer``, ``cond_in``, ``double_blocks.i.img_attn.qkv``,
  ``single_blocks.i.linear1`` ...) -> :class:`ShapeDiT`: fused ``qkv`` and ``linear1`` (q, k, v, mlp) are split;
  ``final_layer.adaLN_modulation.1`` chunks (shift, scale) while diffusers' ``norm_out`` chunks (scale, shift), so its
  halves are swapped (a strict load succeeds either way: only the parity test catches it).

Errors name the key and the file.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import Tensor

from ...errors import InvalidInputError

VAE_FILE = "vae/diffusion_pytorch_model.safetensors"
DIT_FILE = "transformer/diffusion_pytorch_model.safetensors"


def load_file(path) -> dict:
    from safetensors.torch import load_file as lf
    return lf(str(path))


def _strict(model: torch.nn.Module, sd: dict, source: str):
    want = set(model.state_dict())
    have = set(sd)
    missing, extra = sorted(want - have), sorted(have - want)
    if missing or extra:
        what = (f"missing key '{missing[0]}'" + (f" (+{len(missing) - 1} more)" if len(missing) > 1 else "")
                if missing else f"unexpected key '{extra[0]}'" + (f" (+{len(extra) - 1} more)" if len(extra) > 1 else ""))
        raise InvalidInputError(f"checkpoint does not match the model: {what}", field="checkpoint", source=source)
    for k, v in sd.items():
        if tuple(v.shape) != tuple(model.state_dict()[k].shape):
            raise InvalidInputError(f"key '{k}' has shape {tuple(v.shape)}, the model expects "
                                    f"{tuple(model.state_dict()[k].shape)}", field="checkpoint", source=source)
    model.load_state_dict(sd, strict=True)
    return model


# ------------------------------------------------------------------------------------------------ Step1X-3D VAE
def step1x3d_vae_to_ours(sd: dict) -> dict:
    out = {}
    for k, v in sd.items():
        if k.startswith("shape_model."):
            k = k[len("shape_model."):]
            k = k.replace("proj1", "proj_sharp").replace("attn1", "attn_sharp")
        out[k] = v
    return out


def ours_to_step1x3d_vae(sd: dict, legacy: bool = False) -> dict:
    """Inverse map; ``legacy``: under ``shape_model.`` with the old sharp-branch names."""
    if not legacy:
        return dict(sd)
    return {"shape_model." + k.replace("proj_sharp", "proj1").replace("attn_sharp", "attn1"): v for k, v in sd.items()}


def load_step1x3d_vae(model, sd: dict, source: str = "vae state dict"):
    return _strict(model, step1x3d_vae_to_ours(sd), source)


# ------------------------------------------------------------------------------------------------ Step1X-3D DiT
def step1x3d_dit_to_ours(sd: dict) -> dict:
    return {k[len("dit_model."):] if k.startswith("dit_model.") else k: v for k, v in sd.items()}


def load_step1x3d_dit(model, sd: dict, source: str = "transformer state dict"):
    return _strict(model, step1x3d_dit_to_ours(sd), source)


# ------------------------------------------------------------------------------------------------ Hunyuan3D-2 DiT
def _swap_halves(w: Tensor) -> Tensor:
    a, b = w.chunk(2, 0)
    return torch.cat([b, a], 0)


def hunyuan_to_ours(sd: dict, D: int) -> dict:
    """BFL-named Hunyuan3DDiT state dict -> :class:`ShapeDiT` (diffusers block) names."""
    out: dict[str, Tensor] = {}
    simple = {"latent_in": "x_embedder", "cond_in": "proj_cross_attention", "time_in.in_layer": "time_embedder.linear_1",
              "time_in.out_layer": "time_embedder.linear_2", "final_layer.linear": "proj_out"}
    for k, v in sd.items():
        base, _, leaf = k.rpartition(".")
        if base in simple:
            out[f"{simple[base]}.{leaf}"] = v
            continue
        if base == "final_layer.adaLN_modulation.1":
            out[f"norm_out.linear.{leaf}"] = _swap_halves(v)  # (shift, scale) -> (scale, shift)
            continue
        m = re.match(r"double_blocks\.(\d+)\.(img|txt)_(mod\.lin|attn\.qkv|attn\.proj|attn\.norm\.(query|key)_norm|mlp\.0|mlp\.2)$",
                     base)
        if m:
            i, s, part = m.group(1), m.group(2), m.group(3)
            p = f"transformer_blocks.{i}."
            img = s == "img"
            if part == "mod.lin":
                out[p + ("norm1.linear." if img else "norm1_context.linear.") + leaf] = v
            elif part == "attn.qkv":
                q, kk, vv = v.chunk(3, 0)
                names = ("to_q", "to_k", "to_v") if img else ("add_q_proj", "add_k_proj", "add_v_proj")
                for n, t in zip(names, (q, kk, vv)):
                    out[f"{p}attn.{n}.{leaf}"] = t
            elif part == "attn.proj":
                out[p + ("attn.to_out.0." if img else "attn.to_add_out.") + leaf] = v
            elif part.startswith("attn.norm"):
                qk = "q" if m.group(4) == "query" else "k"
                out[p + (f"attn.norm_{qk}.weight" if img else f"attn.norm_added_{qk}.weight")] = v
            elif part == "mlp.0":
                out[p + ("ff.net.0.proj." if img else "ff_context.net.0.proj.") + leaf] = v
            else:
                out[p + ("ff.net.2." if img else "ff_context.net.2.") + leaf] = v
            continue
        m = re.match(r"single_blocks\.(\d+)\.(linear1|linear2|modulation\.lin|norm\.(query|key)_norm)$", base)
        if m:
            p = f"single_transformer_blocks.{m.group(1)}."
            part = m.group(2)
            if part == "linear1":
                q, kk, vv, mlp = torch.split(v, [D, D, D, v.shape[0] - 3 * D], 0)
                for n, t in zip(("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp"), (q, kk, vv, mlp)):
                    out[f"{p}{n}.{leaf}"] = t
            elif part == "linear2":
                out[f"{p}proj_out.{leaf}"] = v
            elif part == "modulation.lin":
                out[f"{p}norm.linear.{leaf}"] = v
            else:
                out[f"{p}attn.norm_{'q' if m.group(3) == 'query' else 'k'}.weight"] = v
            continue
        raise InvalidInputError(f"unexpected Hunyuan3D-2 DiT key '{k}'", field="checkpoint")
    return out


def ours_to_hunyuan(sd: dict) -> dict:
    """Inverse of :func:`hunyuan_to_ours` (for tests)."""
    out: dict[str, Tensor] = {}
    inv_simple = {"x_embedder": "latent_in", "proj_cross_attention": "cond_in", "time_embedder.linear_1":
                  "time_in.in_layer", "time_embedder.linear_2": "time_in.out_layer", "proj_out": "final_layer.linear"}
    groups: dict[str, dict[str, Tensor]] = {}
    for k, v in sd.items():
        base, _, leaf = k.rpartition(".")
        if base in inv_simple:
            out[f"{inv_simple[base]}.{leaf}"] = v
        elif base == "norm_out.linear":
            out[f"final_layer.adaLN_modulation.1.{leaf}"] = _swap_halves(v)
        else:
            groups[k] = v
    for k, v in groups.items():
        m = re.match(r"transformer_blocks\.(\d+)\.(.*)$", k)
        if m:
            i, rest = m.group(1), m.group(2)
            p = f"double_blocks.{i}."
            table = {"norm1.linear": "img_mod.lin", "norm1_context.linear": "txt_mod.lin", "attn.to_out.0": "img_attn.proj",
                     "attn.to_add_out": "txt_attn.proj", "ff.net.0.proj": "img_mlp.0", "ff.net.2": "img_mlp.2",
                     "ff_context.net.0.proj": "txt_mlp.0", "ff_context.net.2": "txt_mlp.2"}
            base, _, leaf = rest.rpartition(".")
            if base in table:
                out[p + table[base] + "." + leaf] = v
            elif rest in ("attn.norm_q.weight", "attn.norm_k.weight", "attn.norm_added_q.weight", "attn.norm_added_k.weight"):
                s = "txt" if "added" in rest else "img"
                qk = "query" if rest.endswith("q.weight") else "key"
                out[f"{p}{s}_attn.norm.{qk}_norm.scale"] = v
            elif base in ("attn.to_q", "attn.add_q_proj"):
                s = "img" if base == "attn.to_q" else "txt"
                names = ("to_q", "to_k", "to_v") if s == "img" else ("add_q_proj", "add_k_proj", "add_v_proj")
                out[f"{p}{s}_attn.qkv.{leaf}"] = torch.cat([sd[f"transformer_blocks.{i}.attn.{n}.{leaf}"] for n in names])
            continue
        m = re.match(r"single_transformer_blocks\.(\d+)\.(.*)$", k)
        if m:
            i, rest = m.group(1), m.group(2)
            p = f"single_blocks.{i}."
            base, _, leaf = rest.rpartition(".")
            if base == "attn.to_q":
                pre = f"single_transformer_blocks.{i}."
                out[f"{p}linear1.{leaf}"] = torch.cat([sd[pre + n + "." + leaf] for n in
                                                       ("attn.to_q", "attn.to_k", "attn.to_v", "proj_mlp")])
            elif base == "proj_out":
                out[f"{p}linear2.{leaf}"] = v
            elif base == "norm.linear":
                out[f"{p}modulation.lin.{leaf}"] = v
            elif rest in ("attn.norm_q.weight", "attn.norm_k.weight"):
                out[f"{p}norm.{'query' if 'norm_q' in rest else 'key'}_norm.scale"] = v
    return out


def load_hunyuan3d2_dit(model, sd: dict, source: str = "Hunyuan3D-2 DiT state dict"):
    sd = {k[len("model."):] if k.startswith("model.") else k: v for k, v in sd.items()}
    return _strict(model, hunyuan_to_ours(sd, model.cfg.width), source)


# ------------------------------------------------------------------------------------------------ from files
def load_pretrained(weights_dir: str | Path | None = None, *, st_layers: bool = True):
    """Step1X-3D VAE + transformer from ``<weights_dir>/step1x-3d-geometry/{vae,transformer}/...`` (registry entries
    ``step1x3d-vae`` / ``step1x3d-dit``) -> (VecSetVAE, ShapeDiT with fresh zero-init ST layers)."""
    from ..registry import require_weight
    from .dit import DiTConfig, ShapeDiT
    from .vae import VAEConfig, VecSetVAE
    vae_path = require_weight("step1x3d-vae")
    dit_path = require_weight("step1x3d-dit")
    vae = load_step1x3d_vae(VecSetVAE(VAEConfig()), load_file(vae_path), str(vae_path))
    dit = ShapeDiT(DiTConfig(st_layers=st_layers))
    sd = step1x3d_dit_to_ours(load_file(dit_path))
    if st_layers:  # the base checkpoint has no ST layers: keep their zero init
        sd.update({k: v for k, v in dit.state_dict().items() if k.startswith("st_blocks.")})
    return vae, _strict(dit, sd, str(dit_path))
