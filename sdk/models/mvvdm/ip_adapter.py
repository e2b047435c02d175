"""The MV-VDM's IP-Adapter image conditioning (Animate3D loads ``h94/IP-Adapter``): its two public files.

* **Adapter** ``models/ip-adapter_sd15.bin`` (registry ``ip-adapter-sd15``): ``torch.save`` of
  ``{"image_proj": {proj.weight [T*C, D], proj.bias, norm.weight [C], norm.bias}, "ip_adapter": {"1.to_k_ip.weight",
  "1.to_v_ip.weight", "3.to_k_ip.weight", ...}}`` (the ``.safetensors`` twin is flat: ``image_proj.proj.weight``,
  ``ip_adapter.1.to_k_ip.weight``). The numbers are positions in a ``UNet2DConditionModel``'s ``attn_processors``
  (attn1 even, attn2 odd: 1, 3, ..., 31), i.e. the j-th cross-attention in the order down blocks, **up blocks, mid
  block** gets ``2j + 1`` (diffusers ``_convert_ip_adapter_attn_to_diffusers``: ``key_id`` starts at 1 and steps by
  2 over the non-motion cross-attentions; checked against it in the tests). Ours: ``encoder_hid_proj.
  image_projection_layers.0.{image_embeds, norm}.*`` (``proj`` -> ``image_embeds``, as diffusers renames it) and
  ``<attn2>.processor.to_{k,v}_ip.0.weight`` (diffusers ``IPAdapterAttnProcessor2_0``), which are also the names
  inside Animate3D's full-model checkpoint (``checkpoint.load_animate3d``).
* **Image encoder** ``models/image_encoder/`` (registry ``ip-adapter-image-encoder``): a transformers
  ``CLIPVisionModelWithProjection`` (OpenCLIP ViT-H/14 laion2B: 32 layers, width 1280, patch 14, 224², projection
  1024), ``config.json`` + ``model.safetensors`` (or ``pytorch_model.bin``). Its ``image_embeds`` [B, 1024] are the
  adapter's input. Needs the optional ``transformers`` package (extra ``ipadapter``); without it one
  ``MissingDependencyError``.

Loaders are strict: missing, unexpected or mis-shaped keys raise one ``InvalidInputError`` naming the file and
the first offending keys. The inverse maps (``to_ip_adapter``, ``to_image_encoder``) write the public layouts.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor

from ...errors import InvalidInputError, MissingDependencyError

ADAPTER_MODEL = "ip-adapter-sd15"
ADAPTER_FILE = "IP-Adapter/models/ip-adapter_sd15.bin"
ENCODER_MODEL = "ip-adapter-image-encoder"
ENCODER_DIR = "IP-Adapter/models/image_encoder"
ENCODER_CONFIG = f"{ENCODER_DIR}/config.json"
ENCODER_WEIGHTS = f"{ENCODER_DIR}/model.safetensors"
ENCODER_WEIGHTS_BIN = f"{ENCODER_DIR}/pytorch_model.bin"   # the same weights as a torch pickle (either one)
PROJ = "encoder_hid_proj.image_projection_layers.0."
IP_MARKERS = ("encoder_hid_proj.", "to_k_ip.", "to_v_ip.")

#: h94/IP-Adapter models/image_encoder/config.json (OpenCLIP ViT-H/14 in transformers' CLIPVisionConfig)
VIT_H_14 = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
                patch_size=14, image_size=224, projection_dim=1024, hidden_act="gelu", layer_norm_eps=1e-5,
                num_channels=3)


def is_ip_key(k: str) -> bool:
    return any(m in k for m in IP_MARKERS)


def ip_keys(model) -> set:
    return {k for k in model.state_dict() if is_ip_key(k)}


# ---------------------------------------------------------------- h94 ip-adapter_sd15 <-> ours

def _layer_ids(model) -> dict:
    """our cross-attention module name -> its number in ``ip-adapter_sd15.bin`` (1, 3, 5, ...)."""
    return {name: 2 * j + 1 for j, name in enumerate(model.ip_attention_names())}


def ip_adapter_to_ours(flat: dict, model) -> tuple[dict, list]:
    """Flat h94 keys (``image_proj.*``, ``ip_adapter.N.*``) -> ours. Returns (converted, unknown keys)."""
    by_id = {i: name for name, i in _layer_ids(model).items()}
    out, unknown = {}, []
    for k, v in flat.items():
        head, _, rest = k.partition(".")
        if head == "image_proj" and rest in ("proj.weight", "proj.bias", "norm.weight", "norm.bias"):
            out[PROJ + rest.replace("proj.", "image_embeds.", 1)] = v
            continue
        parts = rest.split(".")
        if head == "ip_adapter" and len(parts) == 3 and parts[0].isdigit() and int(parts[0]) in by_id and \
                parts[1] in ("to_k_ip", "to_v_ip") and parts[2] == "weight":
            out[f"{by_id[int(parts[0])]}.processor.{parts[1]}.0.weight"] = v
            continue
        unknown.append(k)
    return out, unknown


def to_ip_adapter(model) -> dict:
    """Our IP-Adapter weights in the layout of ``ip-adapter_sd15.bin``: ``{"image_proj": ..., "ip_adapter": ...}``."""
    sd = model.state_dict()
    proj = {k[len(PROJ):].replace("image_embeds.", "proj.", 1): v for k, v in sd.items() if k.startswith(PROJ)}
    ip = {}
    for name, i in _layer_ids(model).items():
        for kv in ("to_k_ip", "to_v_ip"):
            ip[f"{i}.{kv}.weight"] = sd[f"{name}.processor.{kv}.0.weight"]
    return {"image_proj": proj, "ip_adapter": ip}


def flatten_ip_adapter(nested: dict) -> dict:
    """``{"image_proj": {...}, "ip_adapter": {...}}`` -> the flat names of ``ip-adapter_sd15.safetensors``."""
    return {f"{group}.{k}": v for group in ("image_proj", "ip_adapter") for k, v in nested[group].items()}


def read_ip_adapter(sd_or_path) -> tuple[dict, str]:
    """The h94 file (``.bin`` nested, ``.safetensors`` flat) or a state dict of either shape -> (flat, name)."""
    from .checkpoint import read_state_dict
    if isinstance(sd_or_path, (str, Path)):
        path = Path(sd_or_path)
        if not path.is_file():
            raise InvalidInputError(f"{path}: no such checkpoint file", field="checkpoint")
        obj = read_state_dict(path) if path.suffix == ".safetensors" else \
            torch.load(str(path), map_location="cpu", weights_only=True)
        name = str(path)
    else:
        obj, name = sd_or_path, "<state dict>"
    if not isinstance(obj, dict):
        raise InvalidInputError(f"{name}: not an IP-Adapter state dict", field="checkpoint")
    if set(obj) == {"image_proj", "ip_adapter"} and all(isinstance(v, dict) for v in obj.values()):
        obj = flatten_ip_adapter(obj)
    if not any(k.startswith("image_proj.") for k in obj) or not any(k.startswith("ip_adapter.") for k in obj):
        raise InvalidInputError(f"{name}: no 'image_proj' / 'ip_adapter' weights: not an IP-Adapter checkpoint",
                                field="checkpoint")
    if "image_proj.proj.weight" not in obj:
        raise InvalidInputError(
            f"{name}: the image projection is not IP-Adapter SD-1.5's ImageProjModel (proj + norm); "
            f"IP-Adapter-plus / full-face / FaceID files are other models (keys e.g. "
            f"{sorted(k for k in obj if k.startswith('image_proj.'))[:3]})", field="checkpoint")
    return obj, name


def load_ip_adapter(model, sd_or_path) -> dict:
    """``ip-adapter_sd15.bin`` (or its ``.safetensors`` / a state dict) into the MV-VDM's IP-Adapter modules."""
    from .checkpoint import _check_and_load
    if not model.cfg.ip_adapter:
        raise InvalidInputError("this MV-VDM has no IP-Adapter (cfg.ip_adapter=False): nothing to load it into",
                                field="checkpoint")
    flat, name = read_ip_adapter(sd_or_path)
    ours, unknown = ip_adapter_to_ours(flat, model)
    rep = _check_and_load(model, ours, ip_keys(model), name, unknown)
    rep["layers"] = len(model.ip_attention_names())
    return rep


# ---------------------------------------------------------------- the CLIP image encoder (transformers)

def _transformers():
    try:
        import transformers
    except ImportError as e:
        raise MissingDependencyError("transformers", "the IP-Adapter image encoder (CLIPVisionModelWithProjection)",
                                     "pip install 'articulate-sdk[ipadapter]'") from e
    return transformers


def build_image_encoder(config: dict | None = None):
    """A ``CLIPVisionModelWithProjection`` of the given config (default: h94's ViT-H/14), random weights."""
    tf = _transformers()
    cfg = tf.CLIPVisionConfig(**{**VIT_H_14, **(config or {})})
    return tf.CLIPVisionModelWithProjection(cfg).eval()


def _read_config(path: Path) -> dict:
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InvalidInputError(f"{path}: not a readable CLIP vision config.json ({e})", field="checkpoint") from e
    if cfg.get("model_type") not in (None, "clip_vision_model"):
        raise InvalidInputError(f"{path}: model_type {cfg.get('model_type')!r} is not 'clip_vision_model'",
                                field="checkpoint")
    keys = set(VIT_H_14) & set(cfg)
    return {k: cfg[k] for k in keys}


def load_image_encoder(folder=None):
    """The IP-Adapter image encoder from a folder holding ``config.json`` + ``model.safetensors`` (or
    ``pytorch_model.bin``); ``None`` = the registry's ``IP-Adapter/models/image_encoder`` under
    ``ARTICULATE_WEIGHTS_DIR`` (a missing file is one ``MissingWeightsError`` naming it)."""
    if folder is None:
        from ..registry import find_weight, require_weight
        cfg_path = require_weight(ENCODER_MODEL, ENCODER_CONFIG)
        weights = find_weight(ENCODER_WEIGHTS) or find_weight(ENCODER_WEIGHTS_BIN) or \
            require_weight(ENCODER_MODEL, ENCODER_WEIGHTS)
    else:
        folder = Path(folder)
        cfg_path = folder / "config.json"
        if not cfg_path.is_file():
            raise InvalidInputError(f"{cfg_path}: no such file (the image encoder's config.json)", field="checkpoint")
        weights = next((p for p in (folder / "model.safetensors", folder / "pytorch_model.bin") if p.is_file()), None)
        if weights is None:
            raise InvalidInputError(f"{folder}: neither model.safetensors nor pytorch_model.bin", field="checkpoint")
    model = build_image_encoder(_read_config(cfg_path))  # MissingDependencyError here, after the file checks
    load_image_encoder_weights(model, weights)
    return model


def load_image_encoder_weights(model, sd_or_path) -> dict:
    """transformers' names = ours (identity map). ``vision_model.embeddings.position_ids`` (a buffer older files
    carry, not persistent in current transformers) is accepted and dropped."""
    from .checkpoint import _check_and_load, _source
    sd, name = _source(sd_or_path)
    sd = {k: v for k, v in sd.items() if k != "vision_model.embeddings.position_ids"}
    return _check_and_load(model, sd, set(model.state_dict()), name, mismatch="not the image encoder of this config")


def to_image_encoder(model) -> dict:
    return dict(model.state_dict())


def save_image_encoder(model, folder) -> Path:
    """``config.json`` + ``model.safetensors`` in the h94 folder layout (for tests and exports)."""
    from safetensors.torch import save_file
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {k: getattr(model.config, k) for k in VIT_H_14}
    (folder / "config.json").write_text(json.dumps({"architectures": ["CLIPVisionModelWithProjection"],
                                                    "model_type": "clip_vision_model", **cfg}, indent=2))
    save_file({k: v.contiguous() for k, v in to_image_encoder(model).items()}, str(folder / "model.safetensors"))
    return folder


def openclip_visual_to_clip_vision(sd: dict) -> dict:
    """An open_clip state dict's image tower (``visual.*``, any prefix before it, e.g. the ``openclip-vit-h-14``
    registry file) -> transformers ``CLIPVisionModelWithProjection`` names. The same architecture (checked in the
    tests against ``sdk.models.atop.openclip``): ``conv1`` -> ``patch_embedding``, ``ln_pre`` -> ``pre_layrnorm``,
    ``attn.in_proj_{weight,bias}`` split into ``q/k/v_proj``, ``mlp.c_fc/c_proj`` -> ``mlp.fc1/fc2``, ``ln_post``
    -> ``post_layernorm``, ``proj`` [W, E] -> ``visual_projection.weight`` [E, W]."""
    vis = {}
    for k, v in sd.items():
        if "visual." in k:
            vis[k.split("visual.", 1)[1]] = v
    if not vis:
        raise InvalidInputError("no 'visual.*' keys: not an open_clip state dict", field="checkpoint")
    e, out = "vision_model.", {}
    simple = {"conv1.weight": e + "embeddings.patch_embedding.weight", "class_embedding": e + "embeddings.class_embedding",
              "positional_embedding": e + "embeddings.position_embedding.weight"}
    for k, v in vis.items():
        if k in simple:
            out[simple[k]] = v
        elif k.startswith(("ln_pre.", "ln_post.")):
            out[e + ("pre_layrnorm." if k.startswith("ln_pre.") else "post_layernorm.") + k.split(".", 1)[1]] = v
        elif k == "proj":
            out["visual_projection.weight"] = v.t().contiguous()
        elif k.startswith("transformer.resblocks."):
            i, rest = k[len("transformer.resblocks."):].split(".", 1)
            pre = f"{e}encoder.layers.{i}."
            if rest.startswith("attn.in_proj_"):
                kind = rest.rsplit("_", 1)[1]                       # weight | bias
                for name, part in zip(("q_proj", "k_proj", "v_proj"), v.chunk(3, 0)):
                    out[f"{pre}self_attn.{name}.{kind}"] = part.contiguous()
            else:
                for src, dst in (("attn.out_proj.", "self_attn.out_proj."), ("ln_1.", "layer_norm1."),
                                 ("ln_2.", "layer_norm2."), ("mlp.c_fc.", "mlp.fc1."), ("mlp.c_proj.", "mlp.fc2.")):
                    if rest.startswith(src):
                        out[pre + dst + rest[len(src):]] = v
                        break
                else:
                    out[f"visual.{k}"] = v   # unknown: reported as unexpected by the strict loader
        else:
            out[f"visual.{k}"] = v
    return out


def clip_preprocess(images: Tensor, size: int = 224) -> Tensor:  # [B, 3, H, W] in [0, 1] -> [B, 3, size, size]
    """transformers' ``CLIPImageProcessor()`` defaults (what Animate3D's ``load_ip_adapter`` builds) in torch:
    shortest edge -> ``size`` (bicubic, antialiased), centre crop, CLIP mean/std. Differentiable. PIL's bicubic
    kernel differs slightly from torch's: within 1/255 per pixel of the processor's output (test)."""
    import torch.nn.functional as F

    from ..atop.openclip import CLIP_MEAN, CLIP_STD
    h, w = images.shape[-2:]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    x = F.interpolate(images.float(), size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
    top, left = (nh - size) // 2, (nw - size) // 2
    x = x[..., top:top + size, left:left + size]
    mean = torch.tensor(CLIP_MEAN, device=x.device)[None, :, None, None]
    std = torch.tensor(CLIP_STD, device=x.device)[None, :, None, None]
    return (x - mean) / std


def encode_images(encoder, images: Tensor) -> Tensor:
    """images [B, 3, H, W] in [0, 1] -> CLIP ``image_embeds`` [B, projection_dim] (``clip_preprocess`` to the
    encoder's size, then the encoder; differentiable). For the MV-VDM: the conditioning frame of each view ->
    ``image_embeds`` [B, N, D] after a reshape; zeros for the unconditional branch (Animate3D's CFG)."""
    x = clip_preprocess(images, encoder.config.image_size).to(next(encoder.parameters()).dtype)
    return encoder(pixel_values=x).image_embeds


def encode_views(encoder, views: Tensor) -> Tensor:
    """The MV-VDM's ``image_embeds``: views [B, N, 3, H, W] in [0, 1] (each view's conditioning frame) ->
    [B, N, projection_dim]. ``torch.zeros_like`` of it is Animate3D's unconditional image input (CFG)."""
    b, n = views.shape[:2]
    return encode_images(encoder, views.reshape(b * n, *views.shape[2:])).reshape(b, n, -1)
