"""ATOP's motion model without weights: architecture contracts on a tiny random config (CPU)."""
import numpy as np
import pytest
import torch

from sdk.models.atop.checkpoint import (PREFIX, imagedream_to_ours, load_imagedream, load_motion_module,
                                        ours_to_imagedream, save_motion_module)
from sdk.models.atop.motion import FirstFrameTemporalAttention, MaskFiLM, SparseFirstFrameAttention
from sdk.models.atop.pipeline import MotionCondition, make_scheduler, personalize, sample
from sdk.models.atop.unet import ATOPConfig, ATOPUNet, inflate_conv_weight, view_tokens, view_tokens_inverse

CFG = ATOPConfig.tiny()


def _inputs(cfg=CFG, B=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, cfg.num_views, cfg.num_frames, 4, cfg.latent_size, cfg.latent_size, generator=g)
    cond = MotionCondition(text=torch.randn(B, 5, cfg.context_dim, generator=g),
                           camera=torch.randn(B, cfg.num_views, 16, generator=g),
                           mask=(torch.rand(B, cfg.num_views, 1, 32, 32, generator=g) > 0.5).float(),
                           clip_features=torch.randn(B, cfg.num_views, 7, cfg.clip_dim, generator=g))
    return x, cond


def _model(seed=0, cfg=CFG):
    torch.manual_seed(seed)
    m = ATOPUNet(cfg).eval()
    # the ldm init zeroes proj_out/out convs; randomize so every path carries signal in the tests
    with torch.no_grad():
        for n, p in m.named_parameters():
            if not n.startswith("motion_modules.") and p.abs().sum() == 0 and p.dim() > 1:
                p.normal_(0, 0.05)
    return m


def test_motion_module_is_identity_at_init():
    m = _model()
    x, cond = _inputs()
    with torch.no_grad():
        a = m(x, torch.tensor([300]), **cond.kwargs())
        b = m(x, torch.tensor([300]), **cond.kwargs(), use_motion=False)
    assert a.shape == x.shape
    assert torch.allclose(a, b, atol=1e-6)


def test_mask_film_shapes_and_identity():
    film = MaskFiLM(12, hidden=8)
    mask = torch.zeros(2, 3, 1, 32, 32)
    mask[:, :, :, :16] = 1
    g, b = film.gamma_beta(mask, (8, 8))
    assert g.shape == (6, 12, 8, 8) and b.shape == (6, 12, 8, 8)
    assert torch.all(g == 1) and torch.all(b == 0)
    z = torch.randn(6 * 4, 12, 8, 8)  # B*Nv*Nf with Nf = 4
    assert torch.equal(film(z, mask, 4), z)
    with torch.no_grad():  # once trained, masked and unmasked pixels are modulated differently
        film.f[2].bias.fill_(0.5)
        film.f[2].weight.normal_()
    g, _ = film.gamma_beta(mask, (8, 8))
    assert not torch.allclose(g[:, :, :4], g[:, :, 4:])
    # the first-frame mask of a view modulates all of that view's frames alike
    out = film(torch.ones(6 * 4, 12, 8, 8), mask, 4).view(6, 4, 12, 8, 8)
    assert torch.allclose(out[:, 0], out[:, 3])


def _perturb_frame(x, nv, nf, frame, scale=3.0):
    y = x.clone().view(-1, nv, nf, *x.shape[1:])
    y[:, :, frame] += scale * torch.randn_like(y[:, :, frame])
    return y.view_as(x)


@pytest.mark.parametrize("cls", [FirstFrameTemporalAttention, SparseFirstFrameAttention])
def test_first_frame_attention_reads_only_frame_one(cls):
    torch.manual_seed(0)
    nv, nf, L, C = 2, 4, 6, 16
    att = cls(C, 2)
    with torch.no_grad():
        att.attn.to_out[0].weight.normal_()  # switch the residual branch on
    x = torch.randn(1 * nv * nf, L, C)
    y = att(x, nv, nf).view(1, nv, nf, L, C)
    # frame i's output does not change when frames other than 1 and i change
    y2 = att(_perturb_frame(x, nv, nf, 2), nv, nf).view(1, nv, nf, L, C)
    assert torch.allclose(y[:, :, 1], y2[:, :, 1], atol=1e-6)
    assert torch.allclose(y[:, :, 3], y2[:, :, 3], atol=1e-6)
    # ... but it does when frame 1 (index 0) changes
    y3 = att(_perturb_frame(x, nv, nf, 0), nv, nf).view(1, nv, nf, L, C)
    assert not torch.allclose(y[:, :, 1], y3[:, :, 1], atol=1e-4)


def test_eq4_attends_across_all_views():
    torch.manual_seed(0)
    nv, nf, L, C = 3, 2, 4, 8
    att = FirstFrameTemporalAttention(C, 2)
    with torch.no_grad():
        att.attn.to_out[0].weight.normal_()
    x = torch.randn(nv * nf, L, C)
    y = att(x, nv, nf).view(nv, nf, L, C)
    x2 = x.clone().view(nv, nf, L, C)
    x2[2, 0] += 3.0 * torch.randn(L, C)  # frame 1 of another view
    y2 = att(x2.view_as(x), nv, nf).view(nv, nf, L, C)
    assert not torch.allclose(y[0, 1], y2[0, 1], atol=1e-4)


def test_view_attention_reshape_round_trip():
    x = torch.randn(2 * 4 * 3, 5, 7)
    v = view_tokens(x, 4, 3)
    assert v.shape == (2 * 3, 4 * 5, 7)
    assert torch.equal(view_tokens_inverse(v, 4, 3), x)
    # tokens of one frame index across views are grouped together
    xv = x.view(2, 4, 3, 5, 7)
    assert torch.equal(v.view(2, 3, 4, 5, 7)[1, 2, 3], xv[1, 3, 2])


def test_ip_weight_zero_is_text_only_and_camera_changes_output():
    m = _model()
    x, cond = _inputs()
    with torch.no_grad():
        base = m(x, 200, **cond.kwargs())
        m.cfg.ip_weight = 0.0
        a = m(x, 200, **cond.kwargs())
        b = m(x, 200, **dict(cond.kwargs(), clip_features=None, image_tokens=None))
        m.cfg.ip_weight = 1.0
        c = m(x, 200, **dict(cond.kwargs(), camera=cond.camera + 1.0))
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(a, base, atol=1e-5)
    assert not torch.allclose(c, base, atol=1e-5)


def test_camera_embedding_is_added_to_the_timestep_embedding():
    m = _model()
    x, cond = _inputs()
    seen = {}
    blk = m.input_blocks[1][0]
    def hook(mod, inp, out):
        seen.setdefault("temb", inp[1].detach().clone())
    h = blk.register_forward_hook(hook)
    with torch.no_grad():
        m(x, torch.tensor([100]), **cond.kwargs())
    h.remove()
    t_emb = m.time_embed(m.time_proj(torch.tensor([100])).float())
    c_emb = m.camera_embed(cond.camera[0])  # [Nv, ted]
    expect = (t_emb + c_emb)[:, None].expand(-1, CFG.num_frames, -1).reshape(-1, t_emb.shape[-1])
    assert torch.allclose(seen["temb"], expect, atol=1e-5)


def test_inflated_conv_is_framewise():
    conv = torch.nn.Conv2d(3, 5, 3, padding=1)
    x = torch.randn(2, 3, 4, 6, 6)  # [B, C, F, H, W]
    c3 = torch.nn.functional.conv3d(x, inflate_conv_weight(conv.weight), conv.bias, padding=(0, 1, 1))
    c2 = conv(x.permute(0, 2, 1, 3, 4).reshape(8, 3, 6, 6)).view(2, 4, 5, 6, 6).permute(0, 2, 1, 3, 4)
    assert torch.allclose(c3, c2, atol=1e-5)


def test_freeze_base_trains_only_the_motion_module():
    m = _model()
    x, cond = _inputs()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    # make the motion module non-trivial so it gets gradients everywhere
    losses = personalize(m, [(x, cond)], steps=3, lr=5e-4)
    assert all(np.isfinite(losses))
    trainable = {n for n, p in m.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("motion_modules.") for n in trainable)
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in after if not k.startswith("motion_modules."))
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("motion_modules."))


def test_sampler_50_steps_cfg():
    m = _model()
    _, cond = _inputs()
    shape = (1, CFG.num_views, CFG.num_frames, 4, CFG.latent_size, CFG.latent_size)
    calls = []
    h = m.register_forward_hook(lambda *a: calls.append(1))
    z = sample(m, cond, shape, steps=50, guidance=5.0, generator=torch.Generator().manual_seed(0))
    h.remove()
    assert z.shape == shape and torch.isfinite(z).all()
    assert len(calls) == 100  # conditional + unconditional per step


def test_imagedream_loader_round_trip(tmp_path):
    a, b = _model(0), _model(1)
    sd = ours_to_imagedream(a.base_state_dict(), a)
    assert all(k.startswith(PREFIX) for k in sd)
    # ldm names, as in sd-v2.1-base-4view-ipmv.pt
    for k in ("time_embed.0.weight", "camera_embed.2.bias", "input_blocks.0.0.weight",
              "input_blocks.1.0.in_layers.0.weight", "input_blocks.1.0.emb_layers.1.weight",
              "input_blocks.1.0.out_layers.3.weight", "input_blocks.2.0.op.weight",
              "input_blocks.1.1.transformer_blocks.0.attn2.to_k_ip.weight", "middle_block.1.proj_in.weight",
              "output_blocks.1.2.conv.weight", "out.2.weight", "image_embed.latents",
              "image_embed.layers.0.0.to_kv.weight", "image_embed.layers.0.1.3.weight"):
        assert PREFIX + k in sd, k
    assert set(imagedream_to_ours(sd, a)) == set(a.base_state_dict())
    ckpt = {"state_dict": {**sd, "first_stage_model.encoder.conv_in.weight": torch.zeros(1)}}
    path = tmp_path / "sd-v2.1-base-4view-ipmv.pt"
    torch.save(ckpt, path)
    rep = load_imagedream(b, path)
    assert rep == {"missing": [], "unexpected": [], "shape_mismatch": []}
    x, cond = _inputs()
    with torch.no_grad():
        assert torch.allclose(a(x, 10, **cond.kwargs()), b(x, 10, **cond.kwargs()), atol=1e-6)
    # motion module file round trip
    with torch.no_grad():
        for p in a.motion_modules.parameters():
            p.normal_(0, 0.01)
    save_motion_module(a, tmp_path / "atop" / "motion_module_X.safetensors")
    load_motion_module(b, tmp_path / "atop" / "motion_module_X.safetensors")
    with torch.no_grad():
        assert torch.allclose(a(x, 10, **cond.kwargs()), b(x, 10, **cond.kwargs()), atol=1e-6)


def test_loader_rejects_a_mismatched_checkpoint(tmp_path):
    from sdk.errors import InvalidInputError
    a = _model()
    sd = ours_to_imagedream(a.base_state_dict(), a)
    sd.pop(PREFIX + "out.2.weight")
    with pytest.raises(InvalidInputError, match="1 missing"):
        load_imagedream(_model(), sd)
    with pytest.raises(InvalidInputError, match="not an ImageDream"):
        load_imagedream(_model(), {"foo.weight": torch.zeros(1)})


def test_full_config_matches_imagedream_shapes():
    """The SD2.1-base 4-view layout on the meta device (no memory): key names and shapes of the public file."""
    with torch.device("meta"):
        m = ATOPUNet(ATOPConfig.full())
    sd = ours_to_imagedream(m.base_state_dict(), m)
    shape = {k[len(PREFIX):]: tuple(v.shape) for k, v in sd.items()}
    assert shape["input_blocks.0.0.weight"] == (320, 4, 3, 3)
    assert shape["camera_embed.0.weight"] == (1280, 16)
    assert shape["input_blocks.1.1.transformer_blocks.0.attn2.to_k_ip.weight"] == (320, 1024)
    assert shape["input_blocks.4.1.proj_in.weight"] == (640, 640)  # use_linear_in_transformer
    assert shape["middle_block.1.transformer_blocks.0.attn1.to_q.weight"] == (1280, 1280)
    assert shape["output_blocks.2.1.conv.weight"] == (1280, 1280, 3, 3)
    assert shape["output_blocks.11.0.skip_connection.weight"] == (320, 640, 1, 1)
    assert shape["out.2.weight"] == (4, 320, 3, 3)
    assert shape["image_embed.latents"] == (1, 16, 1024)
    assert shape["image_embed.proj_in.weight"] == (1024, 1280)
    assert "input_blocks.10.1.norm.weight" not in shape  # no attention at 8x downsampling
    assert len([k for k in shape if k.endswith("attn2.to_v_ip.weight")]) == 16


def test_missing_weights_name_the_files(tmp_path, monkeypatch):
    from sdk.articulation.prior import get_prior
    from sdk.errors import MissingWeightsError
    with pytest.raises(MissingWeightsError, match="sd-v2.1-base-4view-ipmv.pt"):
        get_prior("diffusion", weights_dir=tmp_path)
    (tmp_path / "imagedream").mkdir()
    (tmp_path / "imagedream" / "sd-v2.1-base-4view-ipmv.pt").write_bytes(b"")
    with pytest.raises(MissingWeightsError, match="motion_module_StorageFurniture.safetensors"):
        get_prior("diffusion", weights_dir=tmp_path)
