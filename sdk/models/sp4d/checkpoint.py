"""Load SV4D 2.0 / SP4D checkpoints in the sgm (Stability ``generative-models``) key layout into our modules.

sgm layout of one branch (prefix ``model.diffusion_model.``)::

    time_embed.{0,2}                     -> time_embed.linear_{1,2}
    label_emb.0.{0,2}                    -> label_emb.linear_{1,2}
    input_blocks.i.j / middle_block.j / output_blocks.i.j / out.{0,2}   (same indices)
      VideoResBlock: in_layers.{0,2} emb_layers.1 out_layers.{0,3} skip_connection
                     -> spatial_res_block.{norm1,conv1,time_emb_proj,norm2,conv2,conv_shortcut}
                     time_stack.(same)  -> temporal_res_block.(same);  time_mixer.mix_factor (same)
      Downsample: op -> conv;  Upsample: conv (same)
      transformer: norm, proj_in, proj_out, transformer_blocks.*, time_mix_blocks.*, motion_blocks.*,
                   time_mix_time_embed.{0,2}, time_mix_motion_embed.{0,2}, time_mixer.mix_factor (same names;
                   attention/FF sub-keys attn1.to_q.., ff.net.0.proj, ff.net.2, norm1..3 are shared by sgm and
                   diffusers). ``motion_mixer.mix_factor`` is taken from ``time_mixer.mix_factor`` when absent.

SP4D adds the part branch under ``model.diffusion_model_part.`` and BiDiFuse under
``model.bidifuse.{input.i,middle,output.i}.net.{0,2}`` (our naming of the public layout). A checkpoint
without a part branch (SV4D 2.0 = stage 1) initialises both branches from the RGB weights (App. A).
"""
from __future__ import annotations

import re

import torch

from .unet import SP4DUNet, SV4DUNet

_RES = [("in_layers.0.", "norm1."), ("in_layers.2.", "conv1."), ("emb_layers.1.", "time_emb_proj."),
        ("out_layers.0.", "norm2."), ("out_layers.3.", "conv2."), ("skip_connection.", "conv_shortcut.")]
_TOP = [("time_embed.0.", "time_embed.linear_1."), ("time_embed.2.", "time_embed.linear_2."),
        ("label_emb.0.0.", "label_emb.linear_1."), ("label_emb.0.2.", "label_emb.linear_2.")]
_BLOCK = re.compile(r"^((?:input_blocks|output_blocks)\.\d+\.\d+\.|middle_block\.\d+\.)(.*)$")


def _is_resblock(module) -> bool:
    from diffusers.models.resnet import SpatioTemporalResBlock
    return isinstance(module, SpatioTemporalResBlock)


def sgm_to_ours_key(key: str, branch: SV4DUNet) -> str:
    """One sgm branch key (prefix already removed) -> our SV4DUNet key."""
    for a, b in _TOP:
        if key.startswith(a):
            return b + key[len(a):]
    m = _BLOCK.match(key)
    if not m:
        return key
    head, rest = m.groups()
    mod = branch.get_submodule(head[:-1])
    if _is_resblock(mod):
        if rest.startswith("time_mixer."):
            return head + rest
        sub = "spatial_res_block."
        if rest.startswith("time_stack."):
            sub, rest = "temporal_res_block.", rest[len("time_stack."):]
        for a, b in _RES:
            if rest.startswith(a):
                return head + sub + b + rest[len(a):]
        return head + sub + rest
    if rest.startswith("op."):
        return head + "conv." + rest[3:]
    return head + rest


def ours_to_sgm_key(key: str, branch: SV4DUNet) -> str:
    """Inverse of ``sgm_to_ours_key`` (used to write sgm-layout files and in tests)."""
    for a, b in _TOP:
        if key.startswith(b):
            return a + key[len(b):]
    m = _BLOCK.match(key)
    if not m:
        return key
    head, rest = m.groups()
    mod = branch.get_submodule(head[:-1])
    if _is_resblock(mod):
        if rest.startswith("time_mixer."):
            return head + rest
        pre = ""
        if rest.startswith("temporal_res_block."):
            pre, rest = "time_stack.", rest[len("temporal_res_block."):]
        else:
            rest = rest[len("spatial_res_block."):]
        for a, b in _RES:
            if rest.startswith(b):
                return head + pre + a + rest[len(b):]
        return head + pre + rest
    if rest.startswith("conv.") and type(mod).__name__ == "Downsample2D":
        return head + "op." + rest[5:]
    return head + rest


def branch_state_from_sgm(sd: dict, branch: SV4DUNet, prefix: str = "model.diffusion_model.") -> tuple[dict, list]:
    """Select ``prefix`` keys of an sgm state dict and rename them for ``branch``. -> (state, unused sgm keys)"""
    out, unused = {}, []
    ours = branch.state_dict()
    for k, v in sd.items():
        if not k.startswith(prefix):
            continue
        nk = sgm_to_ours_key(k[len(prefix):], branch)
        if nk in ours:
            out[nk] = v
        else:
            unused.append(k)
    for k in ours:  # SV4D has one mixer for view and frame attention
        if k.endswith("motion_mixer.mix_factor") and k not in out:
            src = k.replace("motion_mixer.", "time_mixer.")
            if src in out:
                out[k] = out[src].clone()
    return out, unused


def load_sv4d_state_dict(branch: SV4DUNet, sd: dict, prefix: str = "model.diffusion_model.",
                         strict: bool = True) -> dict:
    """Load one SV4D 2.0 branch. Returns {"missing": [...], "unused": [...]}; strict raises on missing keys."""
    st, unused = branch_state_from_sgm(sd, branch, prefix)
    missing = sorted(set(branch.state_dict()) - set(st))
    if strict and missing:
        raise KeyError(f"sgm checkpoint lacks {len(missing)} keys for this config, e.g. {missing[:5]}")
    branch.load_state_dict(st, strict=False)
    return {"missing": missing, "unused": unused}


def load_sp4d_state_dict(unet: SP4DUNet, sd: dict, strict: bool = True) -> dict:
    """Load an SP4D (or SV4D 2.0) sgm state dict into the dual-branch UNet."""
    rep = {"rgb": load_sv4d_state_dict(unet.branch_rgb, sd, "model.diffusion_model.", strict)}
    if any(k.startswith("model.diffusion_model_part.") for k in sd):
        rep["part"] = load_sv4d_state_dict(unet.branch_part, sd, "model.diffusion_model_part.", strict)
    else:
        unet.branch_part.load_state_dict(unet.branch_rgb.state_dict())
        rep["part"] = "initialised from the RGB branch (SV4D 2.0 / stage-1 checkpoint)"
    fuse = {}
    for k, v in sd.items():
        if k.startswith("model.bidifuse."):
            nk = k[len("model.bidifuse."):].replace("input.", "bidifuse_input.").replace("output.", "bidifuse_output.")
            nk = nk.replace("middle.", "bidifuse_middle.")
            fuse[nk] = v
    if fuse:
        missing, unexpected = unet.load_state_dict(fuse, strict=False)
        rep["bidifuse_unexpected"] = list(unexpected)
    rep["bidifuse"] = f"{len(fuse)} tensors" if fuse else "absent (zero-initialised = identity)"
    return rep


def to_sgm_state_dict(unet: SP4DUNet) -> dict:
    """Our dual-branch weights in the sgm / SP4D key layout (inverse of ``load_sp4d_state_dict``)."""
    out = {}
    for name, br, pre in (("rgb", unet.branch_rgb, "model.diffusion_model."),
                          ("part", unet.branch_part, "model.diffusion_model_part.")):
        for k, v in br.state_dict().items():
            out[pre + ours_to_sgm_key(k, br)] = v.clone()
    for k, v in unet.state_dict().items():
        if k.startswith("bidifuse_"):
            nk = k.replace("bidifuse_input.", "input.").replace("bidifuse_output.", "output.").replace("bidifuse_middle.", "middle.")
            out["model.bidifuse." + nk] = v.clone()
    return out


def load_file(path) -> dict:
    """Read a .safetensors or .ckpt/.pt checkpoint into a flat state dict."""
    path = str(path)
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file as lf
        return lf(path)
    obj = torch.load(path, map_location="cpu", weights_only=True)
    return obj.get("state_dict", obj)
