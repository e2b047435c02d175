"""ImageDream's encoders: OpenCLIP ViT-H-14 (laion2b_s32b_b79k), built from torch modules with open_clip's own
parameter names, so ``open_clip_pytorch_model.bin`` loads key for key (``open_clip`` itself is not needed; if it is
installed, nothing here uses it).

* **Text** (ImageDream/SD2 ``FrozenOpenCLIPEmbedder``, ``layer="penultimate"``): BPE tokens (77, SOT/EOT) →
  ``token_embedding`` + ``positional_embedding`` → the causal text transformer *without its last block* →
  ``ln_final`` → [B, 77, 1024], the UNet's cross-attention context.
* **Image** (ImageDream ``ip_mode="local_resample"``: the IP-Adapter-plus Resampler input): the rest-state view,
  resized to 224² and normalized with CLIP's mean/std → ``conv1`` patches (14²) + class token +
  ``positional_embedding`` → ``ln_pre`` → the vision transformer without its last block → [B, 257, 1280]
  (penultimate hidden states, before ``ln_post``, as IP-Adapter-plus takes them).
* **Loading.** ``OpenCLIP.from_file(path)`` reads a flat open_clip state dict (``visual.*``, ``transformer.*``,
  ``token_embedding.weight``, ``positional_embedding``, ``ln_final.*``, ``text_projection``, ``logit_scale``),
  also under an sgm prefix (``cond_stage_model.model.``, ``image_encoder.model.``); missing or unexpected keys
  and shape mismatches are one ``InvalidInputError``; an absent file is ``MissingWeightsError``
  (``openclip/open_clip_pytorch_model.bin`` in ``ARTICULATE_WEIGHTS_DIR``).
* **Tokenizer.** CLIP's byte-level BPE from open_clip's public vocabulary file
  ``bpe_simple_vocab_16e6.txt.gz`` (``openclip/`` beside the weights; needs the ``regex`` package, a diffusers
  dependency). Text cleaning is lower-casing and whitespace folding (open_clip also runs ``ftfy``; ours).

``OpenCLIPEncoders`` has the interface of ``prior.WeightFreeEncoders`` (``encode_text``, ``encode_views``) and
is what ``ATOPDiffusionBackend.from_weights`` uses for the public model.
"""
from __future__ import annotations

import gzip
import html
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

WEIGHTS_FILE = "openclip/open_clip_pytorch_model.bin"
VOCAB_FILE = "openclip/bpe_simple_vocab_16e6.txt.gz"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_PREFIXES = ("cond_stage_model.model.", "image_encoder.model.", "clip_model.", "model.")


@dataclass
class OpenCLIPConfig:
    embed_dim: int = 1024
    image_size: int = 224
    patch_size: int = 14
    vision_width: int = 1280
    vision_layers: int = 32
    vision_heads: int = 16
    context_length: int = 77
    vocab_size: int = 49408
    text_width: int = 1024
    text_layers: int = 24
    text_heads: int = 16
    mlp_ratio: float = 4.0

    @classmethod
    def vit_h_14(cls) -> "OpenCLIPConfig":
        """open_clip ``ViT-H-14`` (model_configs/ViT-H-14.json)."""
        return cls()

    @classmethod
    def tiny(cls) -> "OpenCLIPConfig":
        """For tests; the widths match ``ATOPConfig.tiny()`` (context 16, clip 12)."""
        return cls(embed_dim=16, image_size=28, patch_size=14, vision_width=12, vision_layers=2, vision_heads=2,
                   context_length=12, vocab_size=600, text_width=16, text_layers=2, text_heads=2)


class ResidualAttentionBlock(nn.Module):
    """open_clip ``ResidualAttentionBlock``: ln_1, attn (nn.MultiheadAttention: in_proj_weight/bias, out_proj),
    ln_2, mlp.c_fc / mlp.c_proj with GELU."""

    def __init__(self, width: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, hidden))
        self.mlp.add_module("gelu", nn.GELU())
        self.mlp.add_module("c_proj", nn.Linear(hidden, width))

    def forward(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:  # x [B, L, W]
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.resblocks = nn.ModuleList([ResidualAttentionBlock(width, heads, mlp_ratio) for _ in range(layers)])

    def forward(self, x: Tensor, attn_mask: Tensor | None = None, skip_last: int = 0) -> Tensor:
        for blk in self.resblocks[: len(self.resblocks) - skip_last]:
            x = blk(x, attn_mask)
        return x


class VisionTransformer(nn.Module):
    def __init__(self, cfg: OpenCLIPConfig):
        super().__init__()
        w, g = cfg.vision_width, cfg.image_size // cfg.patch_size
        self.conv1 = nn.Conv2d(3, w, cfg.patch_size, cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(w) * w ** -0.5)
        self.positional_embedding = nn.Parameter(torch.randn(g * g + 1, w) * w ** -0.5)
        self.ln_pre = nn.LayerNorm(w)
        self.transformer = Transformer(w, cfg.vision_layers, cfg.vision_heads, cfg.mlp_ratio)
        self.ln_post = nn.LayerNorm(w)
        self.proj = nn.Parameter(torch.randn(w, cfg.embed_dim) * w ** -0.5)

    def tokens(self, x: Tensor, skip_last: int = 1) -> Tensor:
        """x [B, 3, S, S] normalized -> hidden states [B, 1 + g², W] (penultimate by default)."""
        x = self.conv1(x).flatten(2).transpose(1, 2)  # [B, g², W]
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], 1) + self.positional_embedding.to(x.dtype)
        return self.transformer(self.ln_pre(x), skip_last=skip_last)

    def forward(self, x: Tensor) -> Tensor:  # the CLIP image embedding [B, embed_dim]
        return self.ln_post(self.tokens(x, 0)[:, 0]) @ self.proj


class OpenCLIP(nn.Module):
    """The open_clip ``CLIP`` module tree (text tower at the top level, ``visual`` the image tower)."""

    def __init__(self, cfg: OpenCLIPConfig | None = None):
        super().__init__()
        cfg = cfg or OpenCLIPConfig.vit_h_14()
        self.cfg = cfg
        self.visual = VisionTransformer(cfg)
        self.transformer = Transformer(cfg.text_width, cfg.text_layers, cfg.text_heads, cfg.mlp_ratio)
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.text_width)
        self.positional_embedding = nn.Parameter(torch.randn(cfg.context_length, cfg.text_width) * 0.01)
        self.ln_final = nn.LayerNorm(cfg.text_width)
        self.text_projection = nn.Parameter(torch.randn(cfg.text_width, cfg.embed_dim) * cfg.text_width ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(2.6592))
        mask = torch.full((cfg.context_length, cfg.context_length), float("-inf")).triu(1)
        self.register_buffer("attn_mask", mask, persistent=False)

    # ---- ImageDream's two uses
    def encode_text_tokens(self, tokens: Tensor, layer: str = "penultimate") -> Tensor:
        """tokens [B, 77] -> [B, 77, text_width] (SD2/ImageDream: penultimate block, then ln_final)."""
        x = self.token_embedding(tokens) + self.positional_embedding
        x = self.transformer(x, self.attn_mask, skip_last=1 if layer == "penultimate" else 0)
        return self.ln_final(x)

    def encode_image_tokens(self, images: Tensor) -> Tensor:
        """images [B, 3, H, W] in [0, 1] -> penultimate tokens [B, 1 + g², vision_width]."""
        return self.visual.tokens(preprocess(images, self.cfg.image_size), skip_last=1)

    # ---- the CLIP embeddings themselves (checks and retrieval)
    def encode_text(self, tokens: Tensor) -> Tensor:
        x = self.ln_final(self.transformer(self.token_embedding(tokens) + self.positional_embedding, self.attn_mask))
        return x[torch.arange(len(tokens)), tokens.argmax(-1)] @ self.text_projection  # the EOT token (highest id)

    def encode_image(self, images: Tensor) -> Tensor:
        return self.visual(preprocess(images, self.cfg.image_size))

    @classmethod
    def from_file(cls, path, cfg: OpenCLIPConfig | None = None) -> "OpenCLIP":
        model = cls(cfg)
        load_openclip(model, path)
        return model.eval()


def preprocess(images: Tensor, size: int) -> Tensor:
    """[B, 3, H, W] in [0, 1] -> bicubic resize to size² + CLIP normalization (open_clip's eval transform on a
    square image)."""
    x = F.interpolate(images.float(), size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)
    mean = torch.tensor(CLIP_MEAN, device=x.device)[None, :, None, None]
    std = torch.tensor(CLIP_STD, device=x.device)[None, :, None, None]
    return (x - mean) / std


def _strip(sd: dict) -> dict:
    keys = list(sd)
    for p in _PREFIXES:
        if keys and all(k.startswith(p) for k in keys if "." in k) and any(k.startswith(p) for k in keys):
            return {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}
    return sd


def load_openclip(model: OpenCLIP, path) -> dict:
    """Load an open_clip state dict file into ``model``; returns {missing, unexpected} (both empty on success)."""
    from ...errors import InvalidInputError, MissingWeightsError
    path = Path(path)
    if not path.is_file():
        raise MissingWeightsError("openclip-vit-h-14", WEIGHTS_FILE, str(path.parent.parent if path.name ==
                                  Path(WEIGHTS_FILE).name else path.parent),
                                  hint="laion/CLIP-ViT-H-14-laion2B-s32B-b79K (open_clip layout)")
    from .checkpoint import read_state_dict
    sd = _strip(read_state_dict(path))
    target = model.state_dict()
    missing = sorted(set(target) - set(sd))
    unexpected = sorted(set(sd) - set(target))
    bad = [k for k in set(sd) & set(target) if tuple(sd[k].shape) != tuple(target[k].shape)]
    if missing or unexpected or bad:
        raise InvalidInputError(f"{path}: not an open_clip model of this config: {len(missing)} missing (e.g. "
                                f"{missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(bad)} shape "
                                f"mismatches (e.g. {bad[:3]})", field="checkpoint")
    model.load_state_dict(sd, strict=True)
    return {"missing": missing, "unexpected": unexpected}


# ------------------------------------------------------------------------------------------------ tokenizer
@lru_cache()
def _bytes_to_unicode() -> dict:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class CLIPTokenizer:
    """CLIP's byte-level BPE (open_clip ``SimpleTokenizer``) from ``bpe_simple_vocab_16e6.txt.gz``."""

    def __init__(self, vocab_path, context_length: int = 77):
        from ...errors import MissingDependencyError, MissingWeightsError
        vocab_path = Path(vocab_path)
        if not vocab_path.is_file():
            raise MissingWeightsError("openclip-vit-h-14", VOCAB_FILE, str(vocab_path.parent.parent),
                                      hint="open_clip's src/open_clip/bpe_simple_vocab_16e6.txt.gz")
        try:
            import regex
        except ImportError as e:
            raise MissingDependencyError("regex", "the CLIP tokenizer") from e
        self.byte_encoder = _bytes_to_unicode()
        merges = gzip.open(vocab_path).read().decode("utf-8").split("\n")
        merges = [tuple(m.split()) for m in merges[1: 49152 - 256 - 2 + 1] if m.strip()]
        vocab = list(self.byte_encoder.values())
        vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<start_of_text>", "<end_of_text>"]
        self.encoder = {v: i for i, v in enumerate(vocab)}
        self.bpe_ranks = {m: i for i, m in enumerate(merges)}
        self.cache = {"<start_of_text>": "<start_of_text>", "<end_of_text>": "<end_of_text>"}
        self.pat = regex.compile(r"""<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|"""
                                 r"""[^\s\p{L}\p{N}]+""", regex.IGNORECASE)
        self.sot, self.eot = self.encoder["<start_of_text>"], self.encoder["<end_of_text>"]
        self.context_length = context_length

    def _bpe(self, token: str) -> str:
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:])}
            best = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if best not in self.bpe_ranks:
                break
            a, b = best
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = tuple(out)
        s = " ".join(word)
        self.cache[token] = s
        return s

    def encode(self, text: str) -> list[int]:
        text = " ".join(html.unescape(html.unescape(text)).split()).strip().lower()
        ids = []
        for tok in self.pat.findall(text):
            tok = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
            ids += [self.encoder[t] for t in self._bpe(tok).split(" ")]
        return ids

    def __call__(self, texts) -> Tensor:
        """[str] -> [B, context_length] int64 (SOT ... EOT, zero padded, truncated keeping EOT)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for i, t in enumerate(texts):
            ids = [self.sot] + self.encode(t) + [self.eot]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length - 1] + [self.eot]
            out[i, : len(ids)] = torch.tensor(ids)
        return out


class OpenCLIPEncoders:
    """``encode_text(prompt) -> [1, 77, 1024]`` and ``encode_views(images [Nv,3,H,W] in [0,1]) -> [1, Nv, 257,
    1280]``: the conditioning of the public ATOP model (ImageDream's encoders)."""

    def __init__(self, model: OpenCLIP, tokenizer: CLIPTokenizer):
        self.model, self.tokenizer = model.eval(), tokenizer

    @classmethod
    def from_weights_dir(cls, weights_dir, cfg: OpenCLIPConfig | None = None) -> "OpenCLIPEncoders":
        wd = Path(weights_dir)
        tok = CLIPTokenizer(wd / VOCAB_FILE, (cfg or OpenCLIPConfig()).context_length)
        return cls(OpenCLIP.from_file(wd / WEIGHTS_FILE, cfg), tok)

    @torch.no_grad()
    def encode_text(self, prompt: str | None) -> Tensor:
        return self.model.encode_text_tokens(self.tokenizer([prompt or ""]))

    @torch.no_grad()
    def encode_views(self, images: Tensor) -> Tensor:
        return self.model.encode_image_tokens(images)[None]
