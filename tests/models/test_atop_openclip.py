"""ImageDream's OpenCLIP ViT-H-14 encoders built from torch modules: open_clip's key layout, loading, the
penultimate-layer outputs ImageDream uses, the BPE tokenizer and the missing-file errors (tiny random configs)."""
import gzip

import pytest
import torch

from sdk.models.atop.openclip import (VOCAB_FILE, WEIGHTS_FILE, CLIPTokenizer, OpenCLIP, OpenCLIPConfig,
                                      OpenCLIPEncoders, load_openclip)

TINY = OpenCLIPConfig.tiny()


def _model(seed=0):
    torch.manual_seed(seed)
    return OpenCLIP(TINY).eval()


def test_full_config_has_open_clip_vit_h_14_keys_and_size():
    with torch.device("meta"):
        m = OpenCLIP(OpenCLIPConfig.vit_h_14())
    sd = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert sd["visual.conv1.weight"] == (1280, 3, 14, 14)
    assert sd["visual.positional_embedding"] == (257, 1280)
    assert sd["visual.class_embedding"] == (1280,)
    assert sd["visual.proj"] == (1280, 1024)
    assert sd["visual.transformer.resblocks.31.attn.in_proj_weight"] == (3840, 1280)
    assert sd["visual.transformer.resblocks.31.mlp.c_fc.weight"] == (5120, 1280)
    assert "visual.transformer.resblocks.32.ln_1.weight" not in sd
    assert sd["token_embedding.weight"] == (49408, 1024)
    assert sd["positional_embedding"] == (77, 1024)
    assert sd["transformer.resblocks.23.attn.out_proj.weight"] == (1024, 1024)
    assert sd["text_projection"] == (1024, 1024) and sd["logit_scale"] == ()
    assert "attn_mask" not in sd  # a buffer open_clip does not save either
    n = sum(p.numel() for p in m.parameters())
    assert abs(n / 1e6 - 986.1) < 0.2, n  # open_clip reports 986.11 M parameters for ViT-H-14


@pytest.mark.parametrize("prefix", ["", "cond_stage_model.model."])
def test_loads_an_open_clip_state_dict_file(tmp_path, prefix):
    src = _model(1)
    path = tmp_path / "open_clip_pytorch_model.bin"
    torch.save({prefix + k: v for k, v in src.state_dict().items()}, path)
    dst = OpenCLIP.from_file(path, TINY)
    tok = torch.randint(1, TINY.vocab_size, (2, TINY.context_length))
    img = torch.rand(2, 3, 40, 40)
    assert torch.equal(dst.encode_text_tokens(tok), src.encode_text_tokens(tok))
    assert torch.equal(dst.encode_image_tokens(img), src.encode_image_tokens(img))
    assert not torch.equal(_model(2).encode_text_tokens(tok), src.encode_text_tokens(tok))


def test_penultimate_outputs_and_shapes():
    m = _model()
    tok = torch.randint(1, TINY.vocab_size, (1, TINY.context_length))
    t = m.encode_text_tokens(tok)
    assert t.shape == (1, TINY.context_length, TINY.text_width)
    last = m.encode_text_tokens(tok, layer="last")
    assert not torch.allclose(t, last)  # penultimate skips the last block (SD2 / ImageDream)
    x = m.token_embedding(tok) + m.positional_embedding
    x = m.transformer.resblocks[0](x, m.attn_mask)
    assert torch.allclose(t, m.ln_final(x), atol=1e-6)  # 2 layers: penultimate = after block 0, then ln_final
    im = m.encode_image_tokens(torch.rand(3, 3, 64, 64))
    g = TINY.image_size // TINY.patch_size
    assert im.shape == (3, 1 + g * g, TINY.vision_width)
    assert m.encode_image(torch.rand(2, 3, 28, 28)).shape == (2, TINY.embed_dim)
    assert m.encode_text(tok).shape == (1, TINY.embed_dim)


def test_text_attention_is_causal():
    m = _model()
    tok = torch.randint(1, TINY.vocab_size, (1, TINY.context_length))
    tok2 = tok.clone()
    tok2[0, -1] = (tok[0, -1] + 1) % TINY.vocab_size
    a, b = m.encode_text_tokens(tok), m.encode_text_tokens(tok2)
    assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-6) and not torch.allclose(a[:, -1], b[:, -1])


def test_loader_rejects_a_mismatched_checkpoint(tmp_path):
    from sdk.errors import InvalidInputError
    sd = _model().state_dict()
    sd.pop("visual.proj")
    sd["visual.extra"] = torch.zeros(1)
    path = tmp_path / "x.bin"
    torch.save(sd, path)
    with pytest.raises(InvalidInputError, match="1 missing.*visual.proj.*1 unexpected"):
        load_openclip(OpenCLIP(TINY), path)


def _vocab(path):
    merges = ["#version: 0.2", "h e", "l l</w>", "he ll</w>"]
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(merges) + "\n")


def test_bpe_tokenizer_from_the_vocab_file(tmp_path):
    p = tmp_path / "bpe_simple_vocab_16e6.txt.gz"
    _vocab(p)
    tok = CLIPTokenizer(p, context_length=8)
    base = 512  # 256 byte symbols + their 256 word-final forms
    assert tok.encode("Hell") == [base + 2]  # h e -> he, l l</w> -> ll</w>, he ll</w> -> hell</w>
    assert tok.encode("hell hell") == [base + 2, base + 2]
    a = tok(["hell", "a b c d e f g h"])
    assert a.shape == (2, 8) and a.dtype == torch.long
    assert a[0, :3].tolist() == [tok.sot, base + 2, tok.eot] and a[0, 3:].eq(0).all()
    assert a[1, 0] == tok.sot and a[1, -1] == tok.eot  # truncated, EOT kept
    assert tok.sot == base + 3 and tok.eot == base + 4  # the two specials after the merges


def test_missing_files_raise_missing_weights_error(tmp_path):
    from sdk.errors import MissingWeightsError
    with pytest.raises(MissingWeightsError, match="bpe_simple_vocab_16e6.txt.gz.*ARTICULATE_WEIGHTS_DIR"):
        OpenCLIPEncoders.from_weights_dir(tmp_path)
    (tmp_path / "openclip").mkdir()
    _vocab(tmp_path / VOCAB_FILE)
    with pytest.raises(MissingWeightsError, match="open_clip_pytorch_model.bin"):
        OpenCLIPEncoders.from_weights_dir(tmp_path, TINY)
    torch.save(_model().state_dict(), tmp_path / WEIGHTS_FILE)
    enc = OpenCLIPEncoders.from_weights_dir(tmp_path, TINY)
    assert enc.encode_text("hell").shape == (1, TINY.context_length, TINY.text_width)


def test_encoders_condition_the_tiny_atop_unet(tmp_path):
    """OpenCLIP text tokens are the UNet's context and the penultimate image tokens go through the Resampler."""
    from sdk.models.atop.pipeline import MotionCondition
    from sdk.models.atop.unet import ATOPConfig, ATOPUNet
    p = tmp_path / "v.gz"
    _vocab(p)
    enc = OpenCLIPEncoders(_model(), CLIPTokenizer(p, TINY.context_length))
    cfg = ATOPConfig.tiny()
    assert (cfg.context_dim, cfg.clip_dim) == (TINY.text_width, TINY.vision_width)
    torch.manual_seed(0)
    unet = ATOPUNet(cfg).eval()
    views = torch.rand(cfg.num_views, 3, 32, 32)
    cond = MotionCondition(text=enc.encode_text("hell"), camera=torch.zeros(1, cfg.num_views, 16),
                           mask=torch.zeros(1, cfg.num_views, 1, 16, 16), clip_features=enc.encode_views(views))
    assert cond.clip_features.shape == (1, cfg.num_views, 5, cfg.clip_dim)
    x = torch.randn(1, cfg.num_views, cfg.num_frames, 4, cfg.latent_size, cfg.latent_size)
    with torch.no_grad():
        out = unet(x, torch.tensor([10]), **cond.kwargs())
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_public_backend_checks_every_file_first(tmp_path):
    from sdk.errors import MissingWeightsError
    from sdk.models.atop.prior import ATOPDiffusionBackend
    for f in ("imagedream/sd-v2.1-base-4view-ipmv.pt", "atop/motion_module_Door.safetensors"):
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_bytes(b"")
    with pytest.raises(MissingWeightsError, match="openclip/open_clip_pytorch_model.bin"):
        ATOPDiffusionBackend.from_weights(tmp_path, "Door")


def test_registry_entry_names_the_loader_files():
    from sdk.models.registry import MODELS
    spec = MODELS["openclip-vit-h-14"]
    assert [f.filename for f in spec.files] == [WEIGHTS_FILE, VOCAB_FILE]
    assert spec.config() == OpenCLIPConfig.vit_h_14() and spec.tiny_config() == TINY
