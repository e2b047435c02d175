"""Loading the public checkpoint layouts of the MV-VDM into ``MVVDMUNet`` (and back, for tests).

Files (one registry entry each, ``sdk/models/registry.py``):

* **MVDream SD-1.5, ldm layout** ``sd-v1.5-4view.pt`` (bytedance/MVDream): ``torch.load(...)["state_dict"]`` or
  flat, ``model.diffusion_model.*`` = the multi-view UNet (``first_stage_model.*`` VAE and ``cond_stage_model.*``
  CLIP are other models and are ignored). Names: ``time_embed.{0,2}`` / ``camera_embed.{0,2}`` -> ``time_embedding``
  / ``camera_embedding.linear_{1,2}``; ``input_blocks.{1+3b+l}.0`` (``ResBlock``: ``in_layers.0/2``, ``emb_layers.1``,
  ``out_layers.0/3``, ``skip_connection``) -> ``down_blocks.b.resnets.l.{norm1, conv1, time_emb_proj, norm2, conv2,
  conv_shortcut}``; ``input_blocks.{1+3b+l}.1`` -> ``down_blocks.b.attentions.l`` (same inner names);
  ``input_blocks.{3b+3}.0.op`` -> ``down_blocks.b.downsamplers.0.conv``; ``middle_block.{0,1,2}`` -> ``mid_block.
  {resnets.0, attentions.0, resnets.1}``; ``output_blocks.{3b+l}.{0,1}`` -> ``up_blocks.b.{resnets,attentions}.l``,
  its last ``.{1|2}.conv`` -> ``up_blocks.b.upsamplers.0.conv``; ``out.{0,2}`` -> ``conv_norm_out`` / ``conv_out``.
* **MVDream SD-1.5, diffusers layout** ``mvdream-sd1.5-diffusers/unet/diffusion_pytorch_model.safetensors``
  (yanqinJiang/mvdream-sd1.5-diffusers, what Animate3D loads): ``UNet2DConditionModel`` names + ``camera_embedding.*``
  = our names (identity map).
* **AnimateDiff motion adapter** ``animatediff-motion-adapter-v1-5-2/diffusion_pytorch_model.safetensors``
  (guoyww): diffusers ``MotionAdapter`` = ``{down_blocks.i, mid_block, up_blocks.i}.motion_modules.j.*`` (our names).
  Its ``transformer_blocks.0.pos_embed.pe`` buffers are the fixed sinusoid that Animate3D moves into the processors
  (``attn{1,2}.processor.time_pos_embed.pe``); they are checked equal and not copied.
* **Animate3D** ``animate3d_motion_modules.ckpt`` (huggingface.co/yanqinJiang/animate3d): a ``torch.save`` of
  ``MVUNetMotionModel.state_dict()`` (``{"state_dict": ...}`` or flat) holding the trained modules: every
  ``*motion_modules.*`` key (incl. the processors' ``to_{q,k,v,out}_sp``, ``alpha_blender.mix_factor``,
  ``time_pos_embed.pe``) and the MV2V adapter (``*.attn1.processor.to_q_i2v.weight``, ``to_out_i2v.{weight,bias}``).
  Its inference script accepts 0 missing keys (a full model) or 726 (686 SD-1.5 UNet + 4 camera + 36 IP-Adapter).
  A full model's 36 IP-Adapter keys (``encoder_hid_proj.image_projection_layers.0.*`` and
  ``*.attn2.processor.to_{k,v}_ip.0.weight``) are loaded when the model has its IP-Adapter (``cfg.ip_adapter``),
  all or none; without it they are skipped and counted.
* **IP-Adapter** ``h94/IP-Adapter`` ``models/ip-adapter_sd15.bin`` and its CLIP image encoder: ``ip_adapter.py``.

Every loader is strict: missing, unexpected or mis-shaped keys raise one ``InvalidInputError`` that names the file
and the first offending keys.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ...errors import InvalidInputError
from .ip_adapter import IP_MARKERS, ip_keys, is_ip_key, load_ip_adapter

LDM_PREFIX = "model.diffusion_model."
_RES = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1", "norm2": "out_layers.0",
        "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
_RES_INV = {v: k for k, v in _RES.items()}
IP_ADAPTER_MARKERS = IP_MARKERS


# ---------------------------------------------------------------- key sets of our model

def is_motion_key(k: str) -> bool:
    return "motion_modules." in k


def is_mv2v_key(k: str) -> bool:
    return "_i2v." in k


def base_keys(model) -> set:
    """MVDream's part: everything but the motion modules, the MV2V adapter and the IP-Adapter."""
    return {k for k in model.state_dict() if not (is_motion_key(k) or is_mv2v_key(k) or is_ip_key(k))}


def trained_keys(model) -> set:
    """Animate3D's trained part (its ``trainable_modules: ["i2v.", "motion_modules."]``)."""
    return {k for k in model.state_dict() if is_motion_key(k) or is_mv2v_key(k)}


# ---------------------------------------------------------------- ldm (MVDream .pt) <-> ours

def _ldm_module_map(cfg) -> dict:
    """Our module prefix -> ldm module prefix (under ``model.diffusion_model.``), from the config."""
    m = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
         "time_embedding.linear_2": "time_embed.2", "camera_embedding.linear_1": "camera_embed.0",
         "camera_embedding.linear_2": "camera_embed.2", "conv_norm_out": "out.0", "conv_out": "out.2",
         "mid_block.resnets.0": "middle_block.0", "mid_block.attentions.0": "middle_block.1",
         "mid_block.resnets.1": "middle_block.2"}
    n, lpb = len(cfg.block_out_channels), cfg.layers_per_block
    i = 1
    for b, kind in enumerate(cfg.down_block_types):
        for l in range(lpb):
            m[f"down_blocks.{b}.resnets.{l}"] = f"input_blocks.{i}.0"
            if "CrossAttn" in kind:
                m[f"down_blocks.{b}.attentions.{l}"] = f"input_blocks.{i}.1"
            i += 1
        if b < n - 1:
            m[f"down_blocks.{b}.downsamplers.0.conv"] = f"input_blocks.{i}.0.op"
            i += 1
    i = 0
    for b, kind in enumerate(cfg.up_block_types):
        attn = "CrossAttn" in kind
        for l in range(lpb + 1):
            m[f"up_blocks.{b}.resnets.{l}"] = f"output_blocks.{i}.0"
            if attn:
                m[f"up_blocks.{b}.attentions.{l}"] = f"output_blocks.{i}.1"
            i += 1
        if b < n - 1:
            m[f"up_blocks.{b}.upsamplers.0.conv"] = f"output_blocks.{i - 1}.{2 if attn else 1}.conv"
    return m


def _convert(key: str, table: dict, res_rename: dict, resnet_prefixes: set) -> str | None:
    parts = key.split(".")
    for j in range(len(parts) - 1, 0, -1):
        pre = ".".join(parts[:j])
        if pre in table:
            rest = parts[j:]
            if pre in resnet_prefixes:
                for src, dst in res_rename.items():
                    sp = src.split(".")
                    if rest[:len(sp)] == sp:
                        rest = dst.split(".") + rest[len(sp):]
                        break
                else:
                    return None
            return table[pre] + "." + ".".join(rest)
    return None


def ours_to_ldm(sd: dict, cfg) -> dict:
    """Our base state dict -> MVDream ldm keys (``model.diffusion_model.*``). Motion/MV2V keys are left out."""
    table = _ldm_module_map(cfg)
    res = {p for p in table if ".resnets." in p}
    out = {}
    for k, v in sd.items():
        if is_motion_key(k) or is_mv2v_key(k) or is_ip_key(k):
            continue
        nk = _convert(k, table, _RES, res)
        if nk is None:
            raise KeyError(f"no MVDream ldm name for {k}")
        out[LDM_PREFIX + nk] = v
    return out


def ldm_to_ours(sd: dict, cfg) -> tuple[dict, list]:
    """MVDream ldm keys -> ours. Returns (converted, unknown ldm keys under ``model.diffusion_model.``)."""
    table = {v: k for k, v in _ldm_module_map(cfg).items()}
    res = {p for p, ours in table.items() if ".resnets." in ours}
    out, unknown = {}, []
    for k, v in sd.items():
        if not k.startswith(LDM_PREFIX):
            continue
        nk = _convert(k[len(LDM_PREFIX):], table, _RES_INV, res)
        if nk is None:
            unknown.append(k)
        else:
            out[nk] = v
    return out, unknown


# ---------------------------------------------------------------- file reading and the strict check

def read_state_dict(path) -> dict:
    """``.safetensors`` or a torch pickle (``.pt``/``.ckpt``/``.bin``, possibly ``{"state_dict": ...}``)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such checkpoint file", field="checkpoint")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise InvalidInputError(f"{path}: not a state dict", field="checkpoint")
    return obj


def _source(sd_or_path) -> tuple[dict, str]:
    if isinstance(sd_or_path, (str, Path)):
        return read_state_dict(sd_or_path), str(sd_or_path)
    return sd_or_path, "<state dict>"


def _check_and_load(model, ours: dict, expected: set, name: str, unknown=(),
                    mismatch: str = "checkpoint does not match the MV-VDM config") -> dict:
    """Strict check of ``ours`` against ``model`` (missing / unexpected / mis-shaped keys: one error naming the file),
    then load it cast to the model's dtypes."""
    target = model.state_dict()
    missing = sorted(expected - set(ours))
    unexpected = sorted(set(unknown) | (set(ours) - set(target)))
    bad = sorted(k for k in set(ours) & set(target) if tuple(ours[k].shape) != tuple(target[k].shape))
    if missing or unexpected or bad:
        raise InvalidInputError(
            f"{name}: {mismatch}: {len(missing)} missing (e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(bad)} shape mismatches "
            f"(e.g. {[(k, tuple(ours[k].shape), tuple(target[k].shape)) for k in bad[:2]]})", field="checkpoint")
    model.load_state_dict({k: v.to(target[k].dtype) for k, v in ours.items()}, strict=False)
    return {"loaded": len(ours)}


# ---------------------------------------------------------------- public loaders

def load_mvdream(model, sd_or_path, *, camera: bool = True) -> dict:
    """MVDream base weights, ldm (``model.diffusion_model.*``) or diffusers layout, auto-detected. ``camera=False``
    accepts a plain SD-1.5 UNet (no ``camera_embed``; ours keeps its initialisation)."""
    sd, name = _source(sd_or_path)
    expected = base_keys(model)
    if not camera:
        expected = {k for k in expected if not k.startswith("camera_embedding.")}
    if any(k.startswith(LDM_PREFIX) for k in sd):
        ours, unknown = ldm_to_ours(sd, model.cfg)
        rep = _check_and_load(model, ours, expected, name, unknown)
        rep["ignored"] = sum(not k.startswith(LDM_PREFIX) for k in sd)  # VAE, CLIP, ...
        rep["layout"] = "ldm"
        return rep
    skip = [k for k in sd if is_ip_key(k)]  # IP-Adapter weights are load_ip_adapter's (ip_adapter.py)
    ours = {k: v for k, v in sd.items() if k not in set(skip)}
    rep = _check_and_load(model, ours, expected, name)
    rep.update(layout="diffusers", ip_adapter_skipped=len(skip))
    return rep


def _pos_embed_to_processor(sd: dict, model, name: str) -> dict:
    """AnimateDiff ``transformer_blocks.0.pos_embed.pe`` -> dropped when Animate3D moved the encoding into the
    processors (the values must be the same sinusoid)."""
    target = model.state_dict()
    out = {}
    for k, v in sd.items():
        if k.endswith(".pos_embed.pe") and k not in target:
            proc = k.replace(".pos_embed.pe", ".attn1.processor.time_pos_embed.pe")
            if proc not in target or tuple(v.shape) != tuple(target[proc].shape) or \
                    not torch.allclose(v.float(), target[proc].float(), atol=1e-4):
                raise InvalidInputError(f"{name}: {k} is not the standard sinusoidal frame encoding of this config",
                                        field="checkpoint")
            continue
        out[k] = v
    return out


def load_motion_adapter(model, sd_or_path) -> dict:
    """AnimateDiff ``MotionAdapter`` weights (diffusers layout) into the motion modules. With Animate3D's processors
    installed, the processor-only keys (spatial branch, blender) keep their initialisation."""
    sd, name = _source(sd_or_path)
    ours = _pos_embed_to_processor(sd, model, name)
    expected = {k for k in model.state_dict() if is_motion_key(k) and ".processor." not in k}
    return _check_and_load(model, ours, expected, name)


def load_animate3d(model, sd_or_path) -> dict:
    """Animate3D's ``animate3d_motion_modules.ckpt``: the motion modules + MV2V adapter (or a full model). A
    full model's IP-Adapter keys are loaded when ``model.cfg.ip_adapter`` (then all of them are required), else
    skipped and counted."""
    sd, name = _source(sd_or_path)
    ip_in_file = {k for k in sd if is_ip_key(k)}
    use_ip = bool(ip_in_file) and model.cfg.ip_adapter
    ours = {k: v for k, v in sd.items() if use_ip or k not in ip_in_file}
    if not any(is_motion_key(k) for k in ours):
        raise InvalidInputError(f"{name}: no '*motion_modules.*' keys: not an Animate3D checkpoint",
                                field="checkpoint")
    expected = trained_keys(model) | (ip_keys(model) if use_ip else set())
    rep = _check_and_load(model, ours, expected, name)
    rep["full_model"] = bool(base_keys(model) <= set(ours))
    rep["ip_adapter_loaded"] = len(ip_in_file) if use_ip else 0
    rep["ip_adapter_skipped"] = 0 if use_ip else len(ip_in_file)
    return rep


# ---------------------------------------------------------------- inverse maps (for tests and exports)

def to_mvdream_ldm(model) -> dict:
    return ours_to_ldm(to_mvdream_diffusers(model), model.cfg)


def to_mvdream_diffusers(model) -> dict:
    keep = base_keys(model)
    return {k: v for k, v in model.state_dict().items() if k in keep}


def to_motion_adapter(model) -> dict:
    """Our motion modules in diffusers ``MotionAdapter`` names (``pos_embed.pe`` restored from the processors)."""
    out = {}
    for k, v in model.state_dict().items():
        if not is_motion_key(k) or ".processor." in k and not k.endswith("attn1.processor.time_pos_embed.pe"):
            continue
        if k.endswith(".attn1.processor.time_pos_embed.pe"):
            out[k.replace(".attn1.processor.time_pos_embed.pe", ".pos_embed.pe")] = v
        else:
            out[k] = v
    return out


def to_animate3d(model, full: bool = False) -> dict:
    """The trained modules (``animate3d_motion_modules.ckpt``), or with ``full`` the whole model (Animate3D's
    0-missing-keys form, IP-Adapter included when the model has it)."""
    if full:
        return dict(model.state_dict())
    keep = trained_keys(model)
    return {k: v for k, v in model.state_dict().items() if k in keep}


def load_mvvdm(cfg=None, *, base: str = "mvdream-sd15-diffusers", motion: str | None = "animate3d",
               adapter: str | None = None, ip_adapter: str | None = "ip-adapter-sd15"):
    """The MV-VDM from the registry's files: the MVDream base (``mvdream-sd15-diffusers`` or ``mvdream-sd15``),
    optionally AnimateDiff's adapter (``animatediff-v1-5-2``), the IP-Adapter (``ip-adapter-sd15``, when
    ``cfg.ip_adapter``), then Animate3D's trained modules (``animate3d``; a full-model file overrides the
    IP-Adapter weights, as Animate3D's loading order does). The CLIP image encoder is a separate model:
    ``ip_adapter.load_image_encoder()``. A missing file raises ``MissingWeightsError`` naming it and
    ``ARTICULATE_WEIGHTS_DIR``."""
    from ..registry import require_weight
    from .unet import MVVDMConfig, MVVDMUNet
    cfg = cfg or MVVDMConfig.full()
    ip_adapter = ip_adapter if cfg.ip_adapter else None
    paths = {name: require_weight(name) for name in (base, adapter, ip_adapter, motion) if name}
    model = MVVDMUNet(cfg)
    load_mvdream(model, paths[base])
    if adapter:
        load_motion_adapter(model, paths[adapter])
    if ip_adapter:
        load_ip_adapter(model, paths[ip_adapter])
    if motion:
        load_animate3d(model, paths[motion])
    return model
