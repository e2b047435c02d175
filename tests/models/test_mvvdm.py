"""The Animate3D MV-VDM (sdk.models.mvvdm): structure, public checkpoint layouts, parameter counts, Track4DGen's
stage-1 objective. Tiny random configs built here; the full config only on the meta device."""
import pytest
import torch

diffusers = pytest.importorskip("diffusers")

from sdk.errors import InvalidInputError, MissingWeightsError  # noqa: E402
from sdk.models.mvvdm import checkpoint as ck  # noqa: E402
from sdk.models.mvvdm.unet import DDPMSchedule, MVVDMConfig, MVVDMUNet  # noqa: E402

from .conftest import mvvdm_inputs, perturb_mvvdm, sd_unet


def test_fresh_model_is_the_sd_unet_frame_by_frame():
    """One view, fresh (zero-init) motion modules and MV2V adapter, no camera: the MV-VDM is the 2-D UNet it
    inflates, applied to every frame (so the base loads exactly and the new modules start as identities)."""
    cfg = MVVDMConfig.tiny(n_views=1)
    sd = sd_unet(cfg)
    torch.manual_seed(0)
    m = MVVDMUNet(cfg).eval()
    ck.load_mvdream(m, sd.state_dict(), camera=False)
    x, t, ctx, _ = mvvdm_inputs(cfg)
    with torch.no_grad():
        out = m(x, t, ctx, None)
        for i in range(2):
            for j in range(cfg.n_frames):
                ref = sd(x[i, :, j], t[i:i + 1], ctx[i:i + 1]).sample
                assert torch.allclose(out[i, :, j], ref, atol=1e-5)
        perturb_mvvdm(m)
        assert (m(x, t, ctx, None) - out).abs().max() > 1e-4  # the new modules do act once trained


def test_views_frames_and_samples_interact_as_designed():
    cfg = MVVDMConfig.tiny()
    torch.manual_seed(0)
    m = perturb_mvvdm(MVVDMUNet(cfg)).eval()
    x, t, ctx, cam = mvvdm_inputs(cfg)
    with torch.no_grad():
        out = m(x, t, ctx, cam)
        x2 = x.clone()
        x2[0, 1, 0] += 1.0                         # sample 0, view 1, conditioning frame 0
        out2 = m(x2, t, ctx, cam)
        assert (out2[0, 0, 2] - out[0, 0, 2]).abs().max() > 1e-4   # reaches another view at another frame
        assert torch.allclose(out2[1], out[1], atol=1e-5)         # never another sample
        perm = torch.tensor([1, 0])                               # swapping the views (and their cameras)
        outp = m(x[:, perm], t, ctx, cam[:, perm])
        assert torch.allclose(outp, out[:, perm], atol=1e-4)
        cam2 = cam.clone()
        cam2[:, 0] += 1.0
        assert (m(x, t, ctx, cam2)[:, 0] - out[:, 0]).abs().max() > 1e-4  # the camera embedding is used


def test_ldm_key_map_agrees_with_diffusers_own_converter():
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint
    cfg = MVVDMConfig.tiny()
    sd = sd_unet(cfg)
    m = MVVDMUNet(cfg)
    ck.load_mvdream(m, sd.state_dict(), camera=False)
    ldm = ck.to_mvdream_ldm(m)
    conv = convert_ldm_unet_checkpoint(ldm, dict(sd.config))
    ours = {k: v for k, v in ck.to_mvdream_diffusers(m).items() if not k.startswith("camera_embedding.")}
    assert set(conv) == set(ours)
    assert all(torch.equal(conv[k], ours[k]) for k in conv)
    assert any(k.startswith("model.diffusion_model.camera_embed.0.") for k in ldm)


def test_public_layouts_round_trip_to_identical_outputs(tmp_path):
    from safetensors.torch import save_file
    cfg = MVVDMConfig.tiny()
    torch.manual_seed(0)
    a = perturb_mvvdm(MVVDMUNet(cfg)).eval()
    ldm = dict(ck.to_mvdream_ldm(a))
    ldm["first_stage_model.decoder.conv_in.weight"] = torch.zeros(1)   # other models in the file are ignored
    torch.save({"state_dict": ldm}, tmp_path / "sd-v1.5-4view.pt")
    save_file({k: v.contiguous() for k, v in ck.to_mvdream_diffusers(a).items()}, tmp_path / "unet.safetensors")
    save_file({k: v.contiguous() for k, v in ck.to_motion_adapter(a).items()}, tmp_path / "adapter.safetensors")
    torch.save({"state_dict": ck.to_animate3d(a)}, tmp_path / "animate3d_motion_modules.ckpt")
    x, t, ctx, cam = mvvdm_inputs(cfg)
    with torch.no_grad():
        ref = a(x, t, ctx, cam)
        for base in ("sd-v1.5-4view.pt", "unet.safetensors"):
            torch.manual_seed(9)
            b = MVVDMUNet(cfg).eval()
            assert ck.load_mvdream(b, tmp_path / base)["layout"] == ("ldm" if base.endswith(".pt") else "diffusers")
            assert ck.load_animate3d(b, tmp_path / "animate3d_motion_modules.ckpt")["full_model"] is False
            assert torch.equal(b(x, t, ctx, cam), ref)
        # the AnimateDiff adapter fills every motion-module weight but Animate3D's processor additions
        c = MVVDMUNet(cfg).eval()
        ck.load_mvdream(c, tmp_path / "unet.safetensors")
        ck.load_motion_adapter(c, tmp_path / "adapter.safetensors")
        sa, sc = a.state_dict(), c.state_dict()
        assert all(torch.equal(sa[k], sc[k]) for k in sa if ck.is_motion_key(k) and ".processor." not in k)


def test_motion_adapter_names_are_diffusers_motion_adapter_names():
    from diffusers import MotionAdapter
    cfg = MVVDMConfig.tiny()
    ad = MotionAdapter(block_out_channels=cfg.block_out_channels, motion_layers_per_block=cfg.layers_per_block,
                       motion_norm_num_groups=cfg.norm_num_groups,
                       motion_num_attention_heads=cfg.motion_num_attention_heads, use_motion_mid_block=True)
    m = MVVDMUNet(cfg)
    ck.load_motion_adapter(m, ad.state_dict())
    assert set(ck.to_motion_adapter(m)) == set(ad.state_dict())
    plain = MVVDMUNet(MVVDMConfig.tiny(spatial_motion_attn=False))  # plain AnimateDiff keeps pos_embed
    ck.load_motion_adapter(plain, ad.state_dict())
    mixed = MVVDMUNet(MVVDMConfig.tiny(spatial_motion_levels=(1,)))  # spatial branch at the 2nd level only
    ck.load_motion_adapter(mixed, ad.state_dict())
    keys = list(mixed.state_dict())
    assert any(k.startswith("up_blocks.1.motion_modules.") and "_sp." in k for k in keys)
    assert any(k.startswith("down_blocks.1.motion_modules.") and "_sp." in k for k in keys)
    assert not any(k.startswith(("down_blocks.0.", "up_blocks.2.", "mid_block.")) and "_sp." in k for k in keys)
    assert set(ck.to_motion_adapter(mixed)) == set(ad.state_dict())


def test_loaders_are_strict_and_name_the_file(tmp_path):
    cfg = MVVDMConfig.tiny()
    m = MVVDMUNet(cfg)
    good = ck.to_animate3d(m)
    for bad, why in ((dict(list(good.items())[1:]), "1 missing"),
                     ({**good, "up_blocks.0.motion_modules.0.bogus.weight": torch.zeros(1)}, "1 unexpected"),
                     ({**good, next(iter(good)): torch.zeros(3, 3, 3)}, "1 shape")):
        p = tmp_path / "animate3d_motion_modules.ckpt"
        torch.save(bad, p)
        with pytest.raises(InvalidInputError) as e:
            ck.load_animate3d(MVVDMUNet(cfg), p)
        assert why in str(e.value) and str(p) in str(e.value)
    with pytest.raises(InvalidInputError, match="not an Animate3D"):
        ck.load_animate3d(m, ck.to_mvdream_diffusers(m))
    with pytest.raises(InvalidInputError, match="no such checkpoint"):
        ck.load_mvdream(m, tmp_path / "absent.pt")
    # Animate3D's full-model files carry IP-Adapter keys: skipped and counted, not an error
    ip = {**good, "down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_ip.0.weight": torch.zeros(1)}
    assert ck.load_animate3d(m, ip)["ip_adapter_skipped"] == 1


def test_missing_weight_files_raise_one_clear_error(tmp_path, monkeypatch):
    from sdk.config import settings
    from sdk.models.registry import MODELS
    monkeypatch.setattr(settings, "weights_dir", str(tmp_path))
    with pytest.raises(MissingWeightsError) as e:
        ck.load_mvvdm(MVVDMConfig.tiny())
    msg = str(e.value)
    assert "mvdream-sd1.5-diffusers/unet/diffusion_pytorch_model.safetensors" in msg
    assert "ARTICULATE_WEIGHTS_DIR" in msg and str(tmp_path) in msg
    for name, fname in (("mvdream-sd15", "sd-v1.5-4view.pt"), ("animate3d", "animate3d_motion_modules.ckpt"),
                        ("animatediff-v1-5-2", "animatediff-motion-adapter-v1-5-2/diffusion_pytorch_model"
                                               ".safetensors")):
        assert MODELS[name].files[0].filename == fname


def test_full_config_parameter_counts_match_the_published_models():
    """Meta device. Sources: SD-1.5's UNet has 859,520,964 parameters (diffusers UNet2DConditionModel of
    runwayml/stable-diffusion-v1-5; the "860M UNet" of the SD model card); the MVDream camera MLP is
    Linear(16->1280)+Linear(1280->1280) (MVDream camera_embed); Animate3D's inference script accepts 726 missing keys
    for a motion-modules-only file = 686 UNet + 4 camera + 36 IP-Adapter keys; the Hugging Face listings of
    guoyww/animatediff-motion-adapter-v1-5 (1,670,875,648 bytes, fp32 safetensors incl. its header) and -v1-5-2
    (1.82 GB)."""
    from diffusers import MotionAdapter
    with torch.device("meta"):
        m = MVVDMUNet(MVVDMConfig.full())
        v15 = MotionAdapter(use_motion_mid_block=False)
        v152 = MotionAdapter(use_motion_mid_block=True)
    sd = m.state_dict()
    base = ck.base_keys(m)
    n_unet = sum(sd[k].numel() for k in base if not k.startswith("camera_embedding."))
    assert n_unet == 859_520_964
    assert sum(sd[k].numel() for k in base if k.startswith("camera_embedding.")) == 16 * 1280 + 1280 + 1280 ** 2 + 1280
    assert len(base) == 690 and len(base) + 16 * 2 + 4 == 726
    ours_motion = sum(v.numel() for k, v in sd.items() if ck.is_motion_key(k) and ".processor." not in k)
    adapter_v152 = sum(v.numel() for k, v in v152.state_dict().items() if not k.endswith("pos_embed.pe"))
    assert ours_motion == adapter_v152
    b15 = sum(v.numel() for v in v15.state_dict().values()) * 4
    assert 0 < 1_670_875_648 - b15 < 200_000           # the rest is the safetensors JSON header
    b152 = sum(v.numel() for v in v152.state_dict().values()) * 4
    assert abs(b152 / 1e9 - 1.82) < 0.005


@pytest.mark.parametrize("kind", ["linear", "scaled_linear"])
def test_ddpm_schedule_equals_diffusers(kind):
    from diffusers import DDPMScheduler
    ref = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule=kind)
    ours = DDPMSchedule(beta_schedule=kind)
    assert torch.allclose(ours.alphas_cumprod, ref.alphas_cumprod.float(), atol=1e-6)
    x0, eps, t = torch.randn(3, 4), torch.randn(3, 4), torch.tensor([0, 400, 999])
    assert torch.allclose(ours.add_noise(x0, eps, t), ref.add_noise(x0, eps, t), atol=1e-5)
    assert torch.allclose(ours.x0_from_eps(ours.add_noise(x0, eps, t), eps, t), x0, atol=1e-3)


# ---------------------------------------------------------------- Track4DGen's stage-1 objective, wired

def _track_batch(cfg, b=1, q=5, size=32):
    g = torch.Generator().manual_seed(4)
    tracks = torch.rand(b, cfg.n_views, cfg.n_frames, q, 2, generator=g) * size
    vis = torch.ones(b, cfg.n_views, cfg.n_frames, q, dtype=torch.bool)
    return tracks, vis


def test_features_are_hooked_from_the_second_up_blocks_motion_module_and_gradients_reach_it():
    from sdk.models.mvvdm.tracking import TrackingLossConfig, feature_module_name, track4dgen_loss
    cfg = MVVDMConfig.tiny()
    torch.manual_seed(0)
    m = perturb_mvvdm(MVVDMUNet(cfg))
    assert feature_module_name(m, TrackingLossConfig()) == "up_blocks.1.motion_modules.1"
    x, _, ctx, cam = mvvdm_inputs(cfg, b=1)
    tracks, vis = _track_batch(cfg)
    only_pos = TrackingLossConfig(lambda_diff=0.0, lambda_corr=0.0)
    out = track4dgen_loss(m, DDPMSchedule(), x, ctx, cam, tracks, vis, (32, 32), only_pos,
                          generator=torch.Generator().manual_seed(0))
    assert float(out["pos"].detach()) > 0
    assert float(out["total"].detach()) == pytest.approx(10.0 * float(out["pos"].detach()), rel=1e-5)
    out["total"].backward()
    mm = m.up_blocks[1].motion_modules[1]
    assert mm.proj_out.weight.grad is not None and mm.proj_out.weight.grad.abs().sum() > 0
    assert m.down_blocks[0].motion_modules[0].proj_out.weight.grad.abs().sum() > 0   # upstream of the hook too
    assert m.conv_out.weight.grad is None or m.conv_out.weight.grad.abs().sum() == 0  # downstream: no L_pos grad
    assert len(m._forward_hooks) == 0 and all(len(mod._forward_hooks) == 0 for mod in m.modules())


def test_wired_loss_weights_and_occlusion_masking():
    from sdk.models.mvvdm.tracking import TrackingLossConfig, track4dgen_loss
    cfg = MVVDMConfig.tiny()
    torch.manual_seed(0)
    m = perturb_mvvdm(MVVDMUNet(cfg))
    x, _, ctx, cam = mvvdm_inputs(cfg, b=1)
    tracks, vis = _track_batch(cfg)
    kw = dict(generator=None, t=torch.tensor([300]))
    torch.manual_seed(5)
    full = track4dgen_loss(m, DDPMSchedule(), x, ctx, cam, tracks, vis, (32, 32), **kw)
    c = TrackingLossConfig()
    assert (c.lambda_diff, c.lambda_corr, c.lambda_pos) == (1.0, 0.1, 10.0)
    assert float(full["total"]) == pytest.approx(float(full["diff"] + 0.1 * full["corr"] + 10 * full["pos"]),
                                                 rel=1e-5)
    occluded = vis.clone()
    occluded[:, :, 1:] = False                   # every track hidden after the query frame
    torch.manual_seed(5)
    hidden = track4dgen_loss(m, DDPMSchedule(), x, ctx, cam, tracks, occluded, (32, 32), **kw)
    assert float(hidden["corr"]) == 0.0 and float(hidden["pos"]) == 0.0
    assert float(hidden["diff"]) == pytest.approx(float(full["diff"]), rel=1e-6)  # same noise, same L_diff
