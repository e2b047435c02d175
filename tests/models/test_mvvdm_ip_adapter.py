"""The MV-VDM's IP-Adapter image conditioning (sdk.models.mvvdm: unet + ip_adapter + checkpoint): the decoupled
cross-attention against diffusers' own IP-Adapter loader, scale 0, multi-view mixing, gradients, the public layouts
(h94 ip-adapter_sd15.bin / .safetensors, its CLIP image encoder, Animate3D's full checkpoint) and the full-size
parameter counts on the meta device. Tiny random configs built here."""
import sys

import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from sdk.errors import InvalidInputError, MissingDependencyError, MissingWeightsError  # noqa: E402
from sdk.models.mvvdm import checkpoint as ck  # noqa: E402
from sdk.models.mvvdm import ip_adapter as ipa  # noqa: E402
from sdk.models.mvvdm.unet import MVVDMConfig, MVVDMUNet  # noqa: E402

from .conftest import mvvdm_inputs, perturb_mvvdm, sd_unet


def _cfg(**kw):
    return MVVDMConfig.tiny(ip_adapter=True, **kw)


def _random_h94(model, seed=7) -> dict:
    """A random file in the nested ip-adapter_sd15.bin layout, with this model's shapes."""
    g = torch.Generator().manual_seed(seed)
    nested = ipa.to_ip_adapter(model)
    return {grp: {k: torch.randn(v.shape, generator=g) * 0.2 for k, v in d.items()} for grp, d in nested.items()}


def test_ip_branch_equals_diffusers_ip_adapter_loader_frame_by_frame():
    """One view, fresh motion modules and MV2V, no camera: the MV-VDM with an IP-Adapter file loaded equals a
    diffusers UNet2DConditionModel that loaded the same file with its own ``_load_ip_adapter_weights``, frame by
    frame. This checks the 1, 3, 5, ... numbering (down, up, mid), the projection and the decoupled attention."""
    cfg = _cfg(n_views=1)
    sd = sd_unet(cfg)
    m = MVVDMUNet(cfg).eval()
    ck.load_mvdream(m, sd.state_dict(), camera=False)
    h94 = _random_h94(m)
    assert sorted(int(k.split(".")[0]) for k in h94["ip_adapter"])[::2] == [1, 3, 5, 7, 9, 11, 13]
    ipa.load_ip_adapter(m, h94)
    sd._load_ip_adapter_weights([h94], low_cpu_mem_usage=False)
    # the state-dict names diffusers gives them are ours (Animate3D's full checkpoint was saved after the same call)
    assert {k for k in sd.state_dict() if ipa.is_ip_key(k)} == ipa.ip_keys(m)
    x, t, ctx, _, emb = mvvdm_inputs(cfg, image=True)
    with torch.no_grad():
        out = m(x, t, ctx, None, emb)
        for i in range(2):
            for j in range(cfg.n_frames):
                ref = sd(x[i, :, j], t[i:i + 1], ctx[i:i + 1],
                         added_cond_kwargs={"image_embeds": [emb[i:i + 1]]}).sample
                assert torch.allclose(out[i, :, j], ref, atol=1e-5)
        # every diffusers IP processor holds the weights our loader put at the same layer
        ours = m.state_dict()
        for name, proc in sd.attn_processors.items():
            if hasattr(proc, "to_k_ip"):
                assert torch.equal(proc.to_k_ip[0].weight, ours[name + ".to_k_ip.0.weight"])
                assert torch.equal(proc.to_v_ip[0].weight, ours[name + ".to_v_ip.0.weight"])


def test_image_embedding_changes_the_output_and_scale_zero_is_exactly_text_only():
    cfg = _cfg()
    torch.manual_seed(0)
    m = perturb_mvvdm(MVVDMUNet(cfg)).eval()
    plain = MVVDMUNet(MVVDMConfig.tiny()).eval()  # same config without IP-Adapter
    plain.load_state_dict({k: v for k, v in m.state_dict().items() if not ipa.is_ip_key(k)})
    x, t, ctx, cam, emb = mvvdm_inputs(cfg, image=True)
    with torch.no_grad():
        out = m(x, t, ctx, cam, emb)
        assert (m(x, t, ctx, cam, emb + 1.0) - out).abs().max() > 1e-3
        assert (out - plain(x, t, ctx, cam)).abs().max() > 1e-3
        m.set_ip_adapter_scale(0.0)
        zero = m(x, t, ctx, cam, emb)
        assert torch.equal(zero, plain(x, t, ctx, cam))
        assert torch.equal(m(x, t, ctx, cam, emb * 5.0), zero)
        m.set_ip_adapter_scale(0.5)
        half = m(x, t, ctx, cam, emb)
        assert (half - zero).abs().max() > 1e-4 and (half - out).abs().max() > 1e-4
    with pytest.raises(ValueError, match="image_embeds"):
        m(x, t, ctx, cam)
    with pytest.raises(ValueError, match="no IP-Adapter"):
        plain(x, t, ctx, cam, emb)
    with pytest.raises(ValueError, match="image_embeds must be"):
        m(x, t, ctx, cam, emb[..., :3])


def test_multiview_attention_still_mixes_views_with_the_ip_adapter_on():
    cfg = _cfg()
    torch.manual_seed(0)
    m = perturb_mvvdm(MVVDMUNet(cfg)).eval()
    x, t, ctx, cam, emb = mvvdm_inputs(cfg, image=True)
    with torch.no_grad():
        out = m(x, t, ctx, cam, emb)
        x2 = x.clone()
        x2[0, 1, 0] += 1.0
        out2 = m(x2, t, ctx, cam, emb)
        assert (out2[0, 0, 2] - out[0, 0, 2]).abs().max() > 1e-4   # another view, another frame
        assert torch.allclose(out2[1], out[1], atol=1e-5)          # never another sample
        e2 = emb.clone()
        e2[0, 1] += 1.0                                            # view 1's image embedding ...
        out3 = m(x, t, ctx, cam, e2)
        assert (out3[0, 0] - out[0, 0]).abs().max() > 1e-4         # ... reaches view 0 through attn1
        assert torch.allclose(out3[1], out[1], atol=1e-5)
        perm = torch.tensor([1, 0])                                # views, cameras and image embeddings permuted
        assert torch.allclose(m(x[:, perm], t, ctx, cam[:, perm], emb[:, perm]), out[:, perm], atol=1e-4)
        one = m(x, t, ctx, cam, emb[:, 0])                         # [B, D]: one image for every view
        assert torch.allclose(one, m(x, t, ctx, cam, emb[:, :1].expand_as(emb)), atol=1e-6)


def test_gradients_reach_the_ip_weights():
    cfg = _cfg()
    torch.manual_seed(0)
    m = perturb_mvvdm(MVVDMUNet(cfg))
    x, t, ctx, cam, emb = mvvdm_inputs(cfg, b=1, image=True)
    m(x, t, ctx, cam, emb).square().mean().backward()
    grads = {k: p.grad for k, p in m.named_parameters() if ipa.is_ip_key(k)}
    assert len(grads) == 4 + 2 * len(m.ip_attention_names())
    assert all(g is not None and g.abs().sum() > 0 for g in grads.values()), \
        [k for k, g in grads.items() if g is None or g.abs().sum() == 0]
    # Animate3D/Track4DGen train the MV2V adapter and motion modules only: the IP-Adapter stays frozen
    assert not any(ipa.is_ip_key(k) for k, p in m.named_parameters() if any(p is q for q in m.trainable_parameters()))


def test_public_ip_layouts_round_trip_to_identical_outputs(tmp_path):
    from safetensors.torch import save_file
    cfg = _cfg()
    torch.manual_seed(0)
    a = perturb_mvvdm(MVVDMUNet(cfg)).eval()
    nested = ipa.to_ip_adapter(a)
    assert set(nested["image_proj"]) == {"proj.weight", "proj.bias", "norm.weight", "norm.bias"}
    assert set(nested["ip_adapter"]) == {f"{i}.to_{kv}_ip.weight" for i in range(1, 14, 2) for kv in "kv"}
    torch.save(nested, tmp_path / "ip-adapter_sd15.bin")
    save_file({k: v.contiguous() for k, v in ipa.flatten_ip_adapter(nested).items()},
              tmp_path / "ip-adapter_sd15.safetensors")
    torch.save({"state_dict": ck.to_animate3d(a, full=True)}, tmp_path / "animate3d_full.ckpt")
    x, t, ctx, cam, emb = mvvdm_inputs(cfg, image=True)
    rest = {k: v for k, v in a.state_dict().items() if not ipa.is_ip_key(k)}
    with torch.no_grad():
        ref = a(x, t, ctx, cam, emb)
        for f in ("ip-adapter_sd15.bin", "ip-adapter_sd15.safetensors"):
            torch.manual_seed(9)
            b = MVVDMUNet(cfg).eval()
            b.load_state_dict(rest, strict=False)
            assert ipa.load_ip_adapter(b, tmp_path / f) == {"loaded": 18, "layers": 7}
            assert torch.equal(b(x, t, ctx, cam, emb), ref)
        # Animate3D's full checkpoint: its IP keys are loaded (no longer skipped) into a model with the adapter
        torch.manual_seed(9)
        c = MVVDMUNet(cfg).eval()
        ck.load_mvdream(c, ck.to_mvdream_diffusers(a))
        rep = ck.load_animate3d(c, tmp_path / "animate3d_full.ckpt")
        assert rep["full_model"] and rep["ip_adapter_loaded"] == 18 and rep["ip_adapter_skipped"] == 0
        assert torch.equal(c(x, t, ctx, cam, emb), ref)
    # ... and skipped and counted by a model without it
    rep = ck.load_animate3d(MVVDMUNet(MVVDMConfig.tiny()), tmp_path / "animate3d_full.ckpt")
    assert rep["ip_adapter_loaded"] == 0 and rep["ip_adapter_skipped"] == 18


def test_ip_loaders_are_strict_and_name_the_file(tmp_path):
    cfg = _cfg()
    m = MVVDMUNet(cfg)
    good = ipa.to_ip_adapter(m)
    p = tmp_path / "ip-adapter_sd15.bin"

    def drop(d, grp, key):
        return {g: {k: v for k, v in dd.items() if not (g == grp and k == key)} for g, dd in d.items()}
    cases = ((drop(good, "ip_adapter", "31.to_v_ip.weight" if "31.to_v_ip.weight" in good["ip_adapter"] else
                   "13.to_v_ip.weight"), "1 missing"),
             ({**good, "ip_adapter": {**good["ip_adapter"], "15.to_k_ip.weight": torch.zeros(4, 4)}}, "1 unexpected"),
             ({**good, "image_proj": {**good["image_proj"], "proj.weight": torch.zeros(5, 5)}}, "1 shape"))
    for bad, why in cases:
        torch.save(bad, p)
        with pytest.raises(InvalidInputError) as e:
            ipa.load_ip_adapter(MVVDMUNet(cfg), p)
        assert why in str(e.value) and str(p) in str(e.value)
    plus = {"image_proj": {"latents": torch.zeros(1, 16, 16), "proj_in.weight": torch.zeros(16, 8)},
            "ip_adapter": good["ip_adapter"]}
    with pytest.raises(InvalidInputError, match="not IP-Adapter SD-1.5's ImageProjModel"):
        ipa.load_ip_adapter(m, plus)
    with pytest.raises(InvalidInputError, match="not an IP-Adapter checkpoint"):
        ipa.load_ip_adapter(m, ck.to_mvdream_diffusers(m))
    with pytest.raises(InvalidInputError, match="no such checkpoint"):
        ipa.load_ip_adapter(m, tmp_path / "absent.bin")
    with pytest.raises(InvalidInputError, match="no IP-Adapter"):
        ipa.load_ip_adapter(MVVDMUNet(MVVDMConfig.tiny()), good)
    # Animate3D full checkpoints: the IP keys are all-or-none
    full = ck.to_animate3d(m, full=True)
    part = {k: v for k, v in full.items() if not k.startswith("encoder_hid_proj.")}
    with pytest.raises(InvalidInputError, match="4 missing"):
        ck.load_animate3d(MVVDMUNet(cfg), part)
    # a motion-modules-only file misses exactly the base + IP keys
    assert len(ck.base_keys(m) | ipa.ip_keys(m)) == len(m.state_dict()) - len(ck.trained_keys(m))


def test_full_mv_vdm_forward_with_every_part_and_the_tracking_loss_on_cpu():
    """Camera embedding + motion modules (Animate3D's spatial branch) + MV2V + IP-Adapter in one forward, and
    Track4DGen's stage-1 loss through it."""
    from sdk.models.mvvdm.tracking import TrackingLossConfig, track4dgen_loss
    from sdk.models.mvvdm.unet import DDPMSchedule
    cfg = _cfg()
    torch.manual_seed(0)
    m = perturb_mvvdm(MVVDMUNet(cfg))
    names = [k for k, _ in m.named_modules()]
    assert any(k.endswith("attn1.processor") for k in names) and any("_sp" in k for k, _ in m.named_parameters())
    assert any(k.startswith("camera_embedding.") for k in m.state_dict())
    x, t, ctx, cam, emb = mvvdm_inputs(cfg, b=1, image=True)
    out = m(x, t, ctx, cam, emb)
    assert out.shape == x.shape and torch.isfinite(out).all()
    g = torch.Generator().manual_seed(4)
    tracks = torch.rand(1, cfg.n_views, cfg.n_frames, 5, 2, generator=g) * 32
    vis = torch.ones(1, cfg.n_views, cfg.n_frames, 5, dtype=torch.bool)
    loss = track4dgen_loss(m, DDPMSchedule(), x, ctx, cam, tracks, vis, (32, 32), TrackingLossConfig(),
                           generator=torch.Generator().manual_seed(0), image_embeds=emb)
    loss["total"].backward()
    assert torch.isfinite(loss["total"]) and float(loss["pos"].detach()) > 0
    proc = m.get_submodule(m.ip_attention_names()[0]).processor
    assert proc.to_k_ip[0].weight.grad.abs().sum() > 0


def test_full_size_ip_adapter_matches_the_public_file_shapes():
    """Meta device. The public ip-adapter_sd15.bin: image_proj.proj [3072, 1024] + [3072], norm [768] x 2, and
    ip_adapter.{1..31 odd}.to_{k,v}_ip.weight [hidden, 768] with SD-1.5's hidden sizes in diffusers'
    attn_processors order (down 320 320 640 640 1280 1280, up 1280 x3 640 x3 320 x3, mid 1280); 22.3 M parameters
    (the IP-Adapter paper: "only 22M parameters"). Animate3D's 726 missing keys for a motion-modules-only file =
    690 base + these 36."""
    with torch.device("meta"):
        m = MVVDMUNet(MVVDMConfig.full())
    nested = ipa.to_ip_adapter(m)
    shapes = {f"image_proj.{k}": tuple(v.shape) for k, v in nested["image_proj"].items()}
    assert shapes == {"image_proj.proj.weight": (3072, 1024), "image_proj.proj.bias": (3072,),
                      "image_proj.norm.weight": (768,), "image_proj.norm.bias": (768,)}
    hidden = [320, 320, 640, 640, 1280, 1280, 1280, 1280, 1280, 640, 640, 640, 320, 320, 320, 1280]
    for j, h in enumerate(hidden):
        for kv in "kv":
            assert tuple(nested["ip_adapter"][f"{2 * j + 1}.to_{kv}_ip.weight"].shape) == (h, 768)
    assert len(nested["ip_adapter"]) == 32 and len(ipa.ip_keys(m)) == 36
    n = sum(v.numel() for d in nested.values() for v in d.values())
    assert n == 1024 * 3072 + 3072 + 2 * 768 + 2 * 768 * sum(hidden) == 22_319_616
    assert len(ck.base_keys(m)) + len(ipa.ip_keys(m)) == 726


# ---------------------------------------------------------------- the CLIP image encoder

TINY_CLIP = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, patch_size=8,
                 image_size=32, projection_dim=8)


def test_image_encoder_needs_transformers(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)   # as if it were not installed
    with pytest.raises(MissingDependencyError, match="transformers.*ipadapter"):
        ipa.build_image_encoder(TINY_CLIP)


def test_image_encoder_round_trips_and_feeds_the_ip_adapter(tmp_path, monkeypatch):
    pytest.importorskip("transformers", reason="the image encoder is transformers' CLIPVisionModelWithProjection "
                                               "(extra `ipadapter`); its absence is tested above")
    from sdk.config import settings
    torch.manual_seed(0)
    enc = ipa.build_image_encoder(TINY_CLIP)
    folder = ipa.save_image_encoder(enc, tmp_path / "IP-Adapter" / "models" / "image_encoder")
    images = torch.rand(3, 3, 40, 40)
    with torch.no_grad():
        ref = ipa.encode_images(enc, images)
        assert ref.shape == (3, 8)
        back = ipa.load_image_encoder(folder)
        assert torch.equal(ipa.encode_images(back, images), ref)
        monkeypatch.setattr(settings, "weights_dir", str(tmp_path))   # the registry's path
        assert torch.equal(ipa.encode_images(ipa.load_image_encoder(), images), ref)
        # its image_embeds are the MV-VDM's IP-Adapter input
        cfg = _cfg(ip_image_embed_dim=8)
        m = MVVDMUNet(cfg).eval()
        x, t, ctx, cam, _ = mvvdm_inputs(cfg, b=1, image=True)
        views = torch.rand(1, cfg.n_views, 3, 32, 32)
        e = ipa.encode_views(back, views)
        assert e.shape == (1, cfg.n_views, 8) and torch.allclose(e[0, 1], ipa.encode_images(back, views[0, 1:2])[0],
                                                                 atol=1e-6)
        assert m(x, t, ctx, cam, e).shape == x.shape
    # strict; old files' position_ids buffer is accepted
    sd = ipa.to_image_encoder(enc)
    ipa.load_image_encoder_weights(back, {**sd, "vision_model.embeddings.position_ids": torch.arange(17)[None]})
    with pytest.raises(InvalidInputError, match="1 missing"):
        ipa.load_image_encoder_weights(back, dict(list(sd.items())[1:]))
    with pytest.raises(InvalidInputError, match="1 unexpected"):
        ipa.load_image_encoder_weights(back, {**sd, "text_model.bogus": torch.zeros(1)})
    (folder / "model.safetensors").unlink()
    with pytest.raises(InvalidInputError, match="neither model.safetensors nor pytorch_model.bin"):
        ipa.load_image_encoder(folder)
    torch.save(sd, folder / "pytorch_model.bin")
    assert torch.equal(ipa.encode_images(ipa.load_image_encoder(folder), images), ref)


def test_missing_ip_files_raise_one_clear_error(tmp_path, monkeypatch):
    from sdk.config import settings
    from sdk.models.registry import MODELS
    monkeypatch.setattr(settings, "weights_dir", str(tmp_path))
    assert MODELS["ip-adapter-sd15"].files[0].filename == ipa.ADAPTER_FILE == "IP-Adapter/models/ip-adapter_sd15.bin"
    assert [f.filename for f in MODELS["ip-adapter-image-encoder"].files] == [ipa.ENCODER_CONFIG, ipa.ENCODER_WEIGHTS]
    with pytest.raises(MissingWeightsError) as e:
        ipa.load_image_encoder()
    assert ipa.ENCODER_CONFIG in str(e.value) and "ARTICULATE_WEIGHTS_DIR" in str(e.value)
    cfg_file = tmp_path / ipa.ENCODER_CONFIG
    cfg_file.parent.mkdir(parents=True)
    cfg_file.write_text("{}")
    with pytest.raises(MissingWeightsError, match="model.safetensors"):
        ipa.load_image_encoder()
    # load_mvvdm asks for the IP-Adapter file when the config has one (after the base, before Animate3D's)
    base = tmp_path / "mvdream-sd1.5-diffusers/unet/diffusion_pytorch_model.safetensors"
    base.parent.mkdir(parents=True)
    base.write_bytes(b"x")
    with pytest.raises(MissingWeightsError, match="ip-adapter_sd15.bin"):
        ck.load_mvvdm(_cfg())
    with pytest.raises(MissingWeightsError, match="animate3d_motion_modules.ckpt"):
        ck.load_mvvdm(MVVDMConfig.tiny())                       # no IP-Adapter: its file is not asked for


def test_image_encoder_is_openclip_vit_h_14_and_the_full_size_matches():
    """transformers' CLIPVisionModelWithProjection with h94's config = sdk.models.atop.openclip's independent
    OpenCLIP image tower: equal image embeddings through the key map (tiny), and equal parameter counts for
    ViT-H/14 on the meta device (632,076,800; patch 14, 257 positions, projection 1280 -> 1024)."""
    pytest.importorskip("transformers", reason="the image encoder is transformers' CLIPVisionModelWithProjection "
                                               "(extra `ipadapter`)")
    from sdk.models.atop.openclip import OpenCLIP, OpenCLIPConfig
    oc_cfg = OpenCLIPConfig.tiny()
    torch.manual_seed(0)
    oc = OpenCLIP(oc_cfg).eval()
    enc = ipa.build_image_encoder(dict(hidden_size=oc_cfg.vision_width, intermediate_size=4 * oc_cfg.vision_width,
                                       num_hidden_layers=oc_cfg.vision_layers, num_attention_heads=oc_cfg.vision_heads,
                                       patch_size=oc_cfg.patch_size, image_size=oc_cfg.image_size,
                                       projection_dim=oc_cfg.embed_dim))
    ipa.load_image_encoder_weights(enc, ipa.openclip_visual_to_clip_vision(
        {"cond_stage_model.model." + k: v for k, v in oc.state_dict().items()}))
    images = torch.rand(2, 3, oc_cfg.image_size, oc_cfg.image_size)   # at the encoder's size: no resampling
    with torch.no_grad():
        assert torch.allclose(ipa.encode_images(enc, images), oc.encode_image(images), atol=1e-5)
    with torch.device("meta"):
        full = ipa.build_image_encoder()
        ref = OpenCLIP(OpenCLIPConfig.vit_h_14()).visual
    sd = full.state_dict()
    assert sum(v.numel() for v in sd.values()) == sum(p.numel() for p in ref.parameters()) == 632_076_800
    assert tuple(sd["vision_model.embeddings.patch_embedding.weight"].shape) == (1280, 3, 14, 14)
    assert tuple(sd["vision_model.embeddings.position_embedding.weight"].shape) == (257, 1280)
    assert tuple(sd["visual_projection.weight"].shape) == (1024, 1280)
    assert len(sd) == 3 + 2 + 32 * 16 + 2 + 1   # embeddings, pre-LN, 32 layers x 16, post-LN, projection


def test_clip_preprocess_matches_transformers_clip_image_processor():
    tf = pytest.importorskip("transformers", reason="the reference is transformers' CLIPImageProcessor")
    import numpy as np
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.interpolate(torch.rand(1, 3, 16, 16, generator=g), size=(256, 300), mode="bilinear")
    u8 = (img[0].clamp(0, 1) * 255).round().to(torch.uint8)
    proc = tf.CLIPImageProcessor() if not hasattr(tf, "CLIPImageProcessorPil") else tf.CLIPImageProcessorPil()
    ref = torch.as_tensor(np.asarray(proc(u8.permute(1, 2, 0).numpy(), return_tensors="np").pixel_values))
    ours = ipa.clip_preprocess(u8.float()[None] / 255)
    assert ours.shape == ref.shape == (1, 3, 224, 224)
    d = (ours - ref).abs()
    assert float(d.max()) < 1.5 / 255 / 0.26 and float(d.mean()) < 0.01   # about one 8-bit step
