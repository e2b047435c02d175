"""Model registry: configs, tiny test configs, expected weight files and where they are looked up.

Weight files are searched in ``settings.weights_dir`` (``ARTICULATE_WEIGHTS_DIR``) first, then in the
weights shipped with the package (``sdk/assets/weights``). A missing required file raises
``MissingWeightsError`` naming the file and the directory to put it in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..articulation.prior import DIFFUSION_FILES  # checked there (articulation sits below the models package)
from ..config import settings
from ..errors import MissingWeightsError
from ..tracking.cotracker import WEIGHTS_FILE as COTRACKER_FILE  # likewise (sdk.tracking, layer 4)

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "assets" / "weights"


@dataclass
class WeightFile:
    filename: str
    description: str
    bundled: bool = False      # shipped inside the package


@dataclass
class CompileSpec:
    """How ``articulate compile NAME[:COMPONENT]`` builds a model's networks (``trt_engines`` knows no models).

    ``build(name, kind, cfg_name, *, weights, config, checkpoint, random_weights, batch, dynamic_batch, seed)``
    returns a ``trt_engines.targets.Target`` (module, example inputs, shape profiles, repeated blocks)."""
    build: Callable
    components: tuple[str, ...]
    default_config: str
    default_component: str | None = None   # set for shorthands that name one component (sp4d-unet)


@dataclass
class ModelSpec:
    name: str
    description: str
    config: Callable | None = None
    tiny_config: Callable | None = None
    files: list = field(default_factory=list)
    source: str = ""
    compile: CompileSpec | None = None


def _sp4d_cfg(kind):
    def f():
        from .sp4d.unet import SP4DConfig
        return getattr(SP4DConfig, kind)()
    return f


def _atop_cfg(kind):
    def f():
        from .atop.unet import ATOPConfig
        return getattr(ATOPConfig, kind)()
    return f


def _openclip_cfg(kind):
    def f():
        from .atop.openclip import OpenCLIPConfig
        return getattr(OpenCLIPConfig, kind)()
    return f


ATOP_DEFAULT_CATEGORY = "StorageFurniture"


def _sp4d_build(*args, **kw):
    from .sp4d.compile import build_target
    return build_target(*args, **kw)


_SP4D_COMPONENTS = ("unet", "vae", "vae-encoder")


def _sp4d_compile(default_config: str) -> CompileSpec:
    return CompileSpec(_sp4d_build, _SP4D_COMPONENTS, default_config)


def _sg4d_cfg(kind: str, **kw):
    def f():
        from .shapegen4d import DiTConfig, VAEConfig
        return {"vae": VAEConfig, "vae-tiny": VAEConfig.tiny, "dit": lambda: DiTConfig(**kw),
                "dit-tiny": lambda: DiTConfig.tiny(**kw), "hunyuan": DiTConfig.hunyuan3d2,
                "tiny": _tiny_sg4d}[kind]()
    return f


def _mvvdm_cfg(kind: str):
    def f():
        from .mvvdm.unet import MVVDMConfig
        return getattr(MVVDMConfig, kind)()
    return f


def _tiny_sg4d():
    from .shapegen4d.tiny import TinyConfig
    return TinyConfig()


MODELS: dict[str, ModelSpec] = {
    "atop": ModelSpec(
        "atop", "ATOP multi-view part-motion model (ImageDream SD2.1 4-view UNet inflated for video + personalized "
        "motion module per category); `articulate joints --prior diffusion`", _atop_cfg("full"), _atop_cfg("tiny"),
        [WeightFile(DIFFUSION_FILES[0], "ImageDream sgm checkpoint (model.diffusion_model.*, "
                    "first_stage_model.*, OpenCLIP)"),
         WeightFile(DIFFUSION_FILES[1].format(category=ATOP_DEFAULT_CATEGORY),
                    "personalized motion module (motion_modules.*), one per category (ATOP §4.2.5)")],
        "huggingface.co/Peng-Wang/ImageDream (base); the motion module is fine-tuned per category with "
        "sdk.models.atop.pipeline.personalize (ATOP §4.2.5)"),
    "atop-small": ModelSpec(
        "atop-small", "ATOP motion model at small scale, trained here on procedural props (4 views x 10 frames, "
        "32^2 pixel latents); not shipped: on held-out props it does not beat the weight-free prior "
        "(docs/articulation.md, 'Learned prior')", _atop_cfg("small"), _atop_cfg("tiny"),
        [WeightFile("atop_small.safetensors", "small ATOP UNet incl. the base motion module (fp16)"),
         WeightFile("atop_small_motion.safetensors", "personalized motion modules, '<category>/motion_modules.*'")],
        "python bench/bench_atop_data.py + bench/bench_atop_train.py (GPU; see docs/articulation.md)"),
    "openclip-vit-h-14": ModelSpec(
        "openclip-vit-h-14", "OpenCLIP ViT-H-14 (laion2b_s32b_b79k): ImageDream's text (penultimate, 77x1024) and "
        "image (penultimate, 257x1280) encoders for the public ATOP model; sdk.models.atop.openclip",
        _openclip_cfg("vit_h_14"), _openclip_cfg("tiny"),
        [WeightFile("openclip/open_clip_pytorch_model.bin", "open_clip state dict (visual.*, transformer.*, ...)"),
         WeightFile("openclip/bpe_simple_vocab_16e6.txt.gz", "CLIP BPE vocabulary (ships with open_clip)")],
        "huggingface.co/laion/CLIP-ViT-H-14-laion2B-s32B-b79K (MIT)"),
    "sp4d-small": ModelSpec(
        "sp4d-small", "SP4D trained here on procedural articulated objects (64^2, 4 views x 4 frames); "
        "default of `articulate parts`", _sp4d_cfg("small"), _sp4d_cfg("tiny"),
        [WeightFile("sp4d_small.safetensors", "UNet (both branches + BiDiFuse), context encoder and VAE, fp16", True)],
        "python -m sdk.models.sp4d.train (see docs/models.md)", _sp4d_compile("small")),
    "sp4d": ModelSpec(
        "sp4d", "SP4D at SV4D 2.0 scale (4 views x 12 frames, 576^2 -> 72^2 latents); sgm checkpoint layout",
        _sp4d_cfg("full"), _sp4d_cfg("tiny"),
        [WeightFile("sp4d.safetensors", "SP4D sgm state dict (model.diffusion_model[_part].*, bidifuse.*)")],
        "Stability AI SP4D release (not downloadable here)", _sp4d_compile("full")),
    "sv4d2": ModelSpec(
        "sv4d2", "SV4D 2.0 (stage-1 initialisation of both SP4D branches)", _sp4d_cfg("full"), _sp4d_cfg("tiny"),
        [WeightFile("sv4d2.safetensors", "SV4D 2.0 sgm state dict (model.diffusion_model.*)")],
        "huggingface.co/stabilityai/sv4d2.0", _sp4d_compile("full")),
    "cogvideox-5b": ModelSpec(
        "cogvideox-5b", "CogVideoX-5B video DiT (v-prediction) as AKD's SDS guidance for `articulate animate --method "
        "sds`; diffusers layout; T5 prompt embeddings are passed precomputed", None, None,
        [WeightFile("cogvideox-5b/model_index.json", "diffusers pipeline index"),
         WeightFile("cogvideox-5b/scheduler/scheduler_config.json", "CogVideoXDDIMScheduler (v_prediction, zero SNR)"),
         WeightFile("cogvideox-5b/transformer/config.json", "CogVideoXTransformer3DModel config (+ safetensors shards)"),
         WeightFile("cogvideox-5b/vae/config.json", "AutoencoderKLCogVideoX config (+ safetensors)"),
         WeightFile("cogvideox-5b/transformer/diffusion_pytorch_model.safetensors",
                    "transformer weights (one file or diffusers shards *.safetensors / *.bin)"),
         WeightFile("cogvideox-5b/vae/diffusion_pytorch_model.safetensors", "VAE weights (*.safetensors / *.bin)")],
        "huggingface.co/THUDM/CogVideoX-5b (diffusers layout)"),
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
    "shapegen4d-tiny": ModelSpec(
        "shapegen4d-tiny", "tiny ShapeGen4D trained here on procedural animated capsule shapes (VecSet VAE + DiT with "
        "spatiotemporal layers + from-scratch silhouette/depth encoder); `articulate video-to-4d`",
        _sg4d_cfg("tiny"), None,
        [WeightFile("shapegen4d-tiny/config.json", "TinyConfig (VAE / DiT / encoder configs, latent scale)", True),
         WeightFile("shapegen4d-tiny/vae/diffusion_pytorch_model.safetensors", "VecSetVAE (Step1X-3D names), fp16", True),
         WeightFile("shapegen4d-tiny/transformer/diffusion_pytorch_model.safetensors",
                    "ShapeDiT + ST layers (Step1X-3D transformer names), fp16", True),
         WeightFile("shapegen4d-tiny/condition_encoder/diffusion_pytorch_model.safetensors",
                    "silhouette/depth video encoder (ours), fp16", True)],
        "python -m sdk.models.shapegen4d.train (see docs/meshcache.md)"),
    "hunyuan3d2-dit": ModelSpec(
        "hunyuan3d2-dit", "Hunyuan3D-2.0 DiT (1.1 B, BFL layout) as a second loadable layout",
        _sg4d_cfg("hunyuan"), None,
        [WeightFile("hunyuan3d-dit-v2-0/model.fp16.safetensors", "Hunyuan3DDiT state dict (BFL names)")],
        "huggingface.co/tencent/Hunyuan3D-2 (Tencent Hunyuan 3D 2.0 Community licence; excludes EU/UK/KR)"),
    "sam-vit-b": ModelSpec(
        "sam-vit-b", "Segment Anything ViT-B for SP4D back-mapping (optional; colour clustering otherwise)",
        None, None, [WeightFile("sam_vit_b_01ec64.pth", "SAM ViT-B checkpoint")],
        "github.com/facebookresearch/segment-anything"),
    # Track4DGen stage 1: the Animate3D MV-VDM (sdk.models.mvvdm), one entry per public file
    "mvdream-sd15": ModelSpec(
        "mvdream-sd15", "MVDream SD-1.5 4-view UNet (ldm layout; the MV-VDM's frozen multi-view base, "
        "sdk.models.mvvdm.checkpoint.load_mvdream)", _mvvdm_cfg("full"), _mvvdm_cfg("tiny"),
        [WeightFile("sd-v1.5-4view.pt", "ldm checkpoint: model.diffusion_model.* (+ first_stage_model / "
                    "cond_stage_model, ignored)")],
        "huggingface.co/MVDream/MVDream (bytedance/MVDream; licence per the model page, unverified here)"),
    "mvdream-sd15-diffusers": ModelSpec(
        "mvdream-sd15-diffusers", "MVDream SD-1.5 4-view UNet converted to diffusers (what Animate3D loads)",
        _mvvdm_cfg("full"), _mvvdm_cfg("tiny"),
        [WeightFile("mvdream-sd1.5-diffusers/unet/diffusion_pytorch_model.safetensors",
                    "UNet2DConditionModel names + camera_embedding.*")],
        "huggingface.co/yanqinJiang/mvdream-sd1.5-diffusers"),
    "animatediff-v1-5-2": ModelSpec(
        "animatediff-v1-5-2", "AnimateDiff motion adapter v1-5-2 (diffusers MotionAdapter; the MV-VDM's temporal "
        "modules before Animate3D's training)", _mvvdm_cfg("full"), _mvvdm_cfg("tiny"),
        [WeightFile("animatediff-motion-adapter-v1-5-2/diffusion_pytorch_model.safetensors",
                    "MotionAdapter state dict ({down,mid,up}_block*.motion_modules.*)")],
        "huggingface.co/guoyww/animatediff-motion-adapter-v1-5-2"),
    "animate3d": ModelSpec(
        "animate3d", "Animate3D MV-VDM trained modules (motion modules with spatial branch + MV2V adapter); "
        "Track4DGen stage 1 fine-tunes these with its tracking losses", _mvvdm_cfg("full"), _mvvdm_cfg("tiny"),
        [WeightFile("animate3d_motion_modules.ckpt", "MVUNetMotionModel state dict (motion_modules.*, "
                    "*.attn1.processor.to_{q,out}_i2v.*)")],
        "huggingface.co/yanqinJiang/animate3d (code: yanqinJiang/Animate3D, Apache-2.0)"),
    "ip-adapter-sd15": ModelSpec(
        "ip-adapter-sd15", "IP-Adapter SD-1.5 (image projection 1024 -> 4 x 768 tokens + decoupled cross-attention "
        "to_{k,v}_ip of the 16 cross-attentions); the MV-VDM's image conditioning "
        "(sdk.models.mvvdm.ip_adapter.load_ip_adapter)", _mvvdm_cfg("full"), None,
        [WeightFile("IP-Adapter/models/ip-adapter_sd15.bin", "{'image_proj': {proj, norm}, 'ip_adapter': "
                    "{'1.to_k_ip.weight', ..., '31.to_v_ip.weight'}} (the .safetensors twin also loads)")],
        "huggingface.co/h94/IP-Adapter (Apache-2.0)"),
    "ip-adapter-image-encoder": ModelSpec(
        "ip-adapter-image-encoder", "IP-Adapter's CLIP ViT-H/14 image encoder (transformers "
        "CLIPVisionModelWithProjection, image_embeds 1024; needs the `ipadapter` extra)", None, None,
        [WeightFile("IP-Adapter/models/image_encoder/config.json", "CLIPVisionConfig (clip_vision_model)"),
         WeightFile("IP-Adapter/models/image_encoder/model.safetensors",
                    "CLIPVisionModelWithProjection state dict (or pytorch_model.bin beside it)")],
        "huggingface.co/h94/IP-Adapter models/image_encoder (OpenCLIP ViT-H-14 laion2B, MIT)"),
    "cotracker3": ModelSpec(
        "cotracker3", "CoTracker3 offline point tracker (optional, Track4DGen stage-1 tracks; code and weights "
        "CC-BY-NC 4.0: install `cotracker` yourself; the SDK falls back to Lucas-Kanade or GT tracks)",
        None, None, [WeightFile(COTRACKER_FILE, "CoTracker3 offline checkpoint")],
        "facebookresearch/co-tracker (CC-BY-NC)"),
}


#: compile shorthands without a registry entry (architecture of --config; weights from --checkpoint or random)
COMPILE_SHORTHANDS: dict[str, CompileSpec] = {
    "sp4d-unet": CompileSpec(_sp4d_build, _SP4D_COMPONENTS, "full", "unet"),
    "sp4d-vae": CompileSpec(_sp4d_build, _SP4D_COMPONENTS, "full", "vae"),
    "sp4d-vae-decoder": CompileSpec(_sp4d_build, _SP4D_COMPONENTS, "full", "vae"),
    "sp4d-vae-encoder": CompileSpec(_sp4d_build, _SP4D_COMPONENTS, "full", "vae-encoder"),
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
