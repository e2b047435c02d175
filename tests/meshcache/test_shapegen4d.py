"""ShapeGen4D generator without weights: parameter counts at the published configs (meta device), key coverage of
every checkpoint layout, numerical parity with a BFL-style reference forward, ST-layer zero init, RoPE, shared noise,
the sigma grid against diffusers, and grid decode + marching cubes."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("diffusers")

from sdk.errors import InvalidInputError, MissingWeightsError
from sdk.models.shapegen4d import (DiTConfig, ShapeDiT, VAEConfig, VecSetVAE, extract_mesh, noise_like, rf_loss,
                                   rf_sample, sigma_grid, to_hunyuan)
from sdk.models.shapegen4d import checkpoint as ck


def _count(m):
    return sum(p.numel() for p in m.parameters())


def test_parameter_counts_at_full_configs():
    with torch.device("meta"):
        vae = VecSetVAE(VAEConfig())
        dit = ShapeDiT(DiTConfig())
        hy = ShapeDiT(DiTConfig.hunyuan3d2())
    assert abs(_count(vae) / 191e6 - 1) < 0.01, _count(vae)
    assert abs(_count(dit) / 1.30e9 - 1) < 0.01, _count(dit)
    assert abs(_count(hy) / 1.1e9 - 1) < 0.03, _count(hy)
    with torch.device("meta"):
        st = ShapeDiT(DiTConfig(st_layers=True))
    assert _count(st) - _count(dit) == 36 * sum(p.numel() for p in st.st_blocks[0].parameters())


def _randomize(m, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=g))
    return m


def test_vae_layouts_round_trip_and_name_bad_keys():
    vae = _randomize(VecSetVAE(VAEConfig.tiny()))
    sd = vae.state_dict()
    for legacy in (False, True):
        pub = ck.ours_to_step1x3d_vae(sd, legacy=legacy)
        if legacy:
            assert any(k.startswith("shape_model.encoder.input_proj1") for k in pub)
        other = ck.load_step1x3d_vae(VecSetVAE(VAEConfig.tiny()), pub)
        assert all(torch.equal(other.state_dict()[k], v) for k, v in sd.items())
    bad = dict(sd)
    bad.pop("encoder.cross_attn_sharp.attn.c_kv.weight")
    with pytest.raises(InvalidInputError, match=r"vae.st: .*missing key 'encoder.cross_attn_sharp.attn.c_kv.weight'"):
        ck.load_step1x3d_vae(VecSetVAE(VAEConfig.tiny()), bad, "vae.st")
    with pytest.raises(InvalidInputError, match="unexpected key 'extra.weight'"):
        ck.load_step1x3d_vae(VecSetVAE(VAEConfig.tiny()), {**sd, "extra.weight": torch.zeros(1)})


def test_vae_encode_decode_given_queries_and_fps():
    torch.manual_seed(0)
    vae = VecSetVAE(VAEConfig.tiny()).eval()
    surf = torch.randn(2, 200, 6)
    mean, logvar, z = vae.encode(surf)
    assert z.shape == (2, 32, 8) and logvar.max() <= 20
    q = torch.randn(2, 16, 6)  # given (aligned) queries: 16 + 16 sharp = 32 latents
    _, _, z2 = vae.encode(surf, queries=q)
    assert z2.shape == (2, 32, 8)
    # each latent depends on its own query: moving query 0 changes latent 0 only before self-attention... and the
    # encoder is permutation-equivariant in the queries
    perm = torch.randperm(16)
    _, _, z3 = vae.encode(surf, queries=q[:, perm])
    assert torch.allclose(z3[:, :16], z2[:, :16][:, perm], atol=1e-5)
    sdf = vae.query(torch.randn(2, 50, 3), vae.decode(z))
    assert sdf.shape == (2, 50)


def test_dit_step1x3d_layout_round_trip():
    dit = _randomize(ShapeDiT(DiTConfig.tiny()))
    pub = {"dit_model." + k: v for k, v in dit.state_dict().items()}
    other = ck.load_step1x3d_dit(ShapeDiT(DiTConfig.tiny()), pub)
    assert all(torch.equal(other.state_dict()[k], v) for k, v in dit.state_dict().items())
    names = set(dit.state_dict())
    for k in ("transformer_blocks.0.attn.norm_q.weight", "transformer_blocks.0.norm1_context.linear.weight",
              "transformer_blocks.0.ff_context.net.2.weight", "single_transformer_blocks.1.proj_mlp.weight",
              "single_transformer_blocks.1.proj_out.weight", "norm_out.linear.weight"):
        assert k in names


# ------------------------------------------------------------------------- independent BFL-style reference forward
def _rms(x, scale):
    return x * torch.rsqrt((x.float() ** 2).mean(-1, keepdim=True) + 1e-6) * scale


def _ln(x):
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


def _lin(sd, name, x):
    return F.linear(x, sd[name + ".weight"], sd.get(name + ".bias"))


def _attn(q, k, v, H):  # [B, L, H*D] each
    B, L, _ = q.shape
    sp = lambda t: t.view(B, t.shape[1], H, -1).transpose(1, 2)
    return F.scaled_dot_product_attention(sp(q), sp(k), sp(v)).transpose(1, 2).reshape(B, L, -1)


def _tsin(t, dim, max_period=10000, time_factor=1000.0):
    t = time_factor * t
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], -1)


def bfl_reference(sd, x, t, cond, cfg):
    """Hunyuan3DDiT forward from the published block equations (BFL FLUX): fused qkv, RMS qk-norm, Modulation chunks
    (shift, scale, gate), single block linear1 -> [qkv, mlp], LastLayer (shift, scale)."""
    H, D = cfg.num_heads, cfg.width
    vec = _lin(sd, "time_in.out_layer", F.silu(_lin(sd, "time_in.in_layer", _tsin(t, 256))))
    img, txt = _lin(sd, "latent_in", x), _lin(sd, "cond_in", cond)
    sv = F.silu(vec)
    for i in range(cfg.num_layers):
        p = f"double_blocks.{i}."
        im = _lin(sd, p + "img_mod.lin", sv)[:, None].chunk(6, -1)
        tm = _lin(sd, p + "txt_mod.lin", sv)[:, None].chunk(6, -1)
        qkv_i = _lin(sd, p + "img_attn.qkv", (1 + im[1]) * _ln(img) + im[0]).chunk(3, -1)
        qkv_t = _lin(sd, p + "txt_attn.qkv", (1 + tm[1]) * _ln(txt) + tm[0]).chunk(3, -1)
        def qk(qkv, s):
            q, k, v = qkv
            sh = lambda z: z.view(*z.shape[:2], H, -1)
            q = _rms(sh(q), sd[p + f"{s}_attn.norm.query_norm.scale"]).flatten(2)
            k = _rms(sh(k), sd[p + f"{s}_attn.norm.key_norm.scale"]).flatten(2)
            return q, k, v
        qi, ki, vi = qk(qkv_i, "img")
        qt, kt, vt = qk(qkv_t, "txt")
        a = _attn(torch.cat([qt, qi], 1), torch.cat([kt, ki], 1), torch.cat([vt, vi], 1), H)
        at, ai = a[:, :txt.shape[1]], a[:, txt.shape[1]:]
        img = img + im[2] * _lin(sd, p + "img_attn.proj", ai)
        img = img + im[5] * _lin(sd, p + "img_mlp.2", F.gelu(_lin(sd, p + "img_mlp.0", (1 + im[4]) * _ln(img) + im[3]),
                                                                 approximate="tanh"))
        txt = txt + tm[2] * _lin(sd, p + "txt_attn.proj", at)
        txt = txt + tm[5] * _lin(sd, p + "txt_mlp.2", F.gelu(_lin(sd, p + "txt_mlp.0", (1 + tm[4]) * _ln(txt) + tm[3]),
                                                                 approximate="tanh"))
    h = torch.cat([txt, img], 1)
    for i in range(cfg.num_single_layers):
        p = f"single_blocks.{i}."
        sh_, sc, g = _lin(sd, p + "modulation.lin", sv)[:, None].chunk(3, -1)
        qkv, mlp = torch.split(_lin(sd, p + "linear1", (1 + sc) * _ln(h) + sh_), [3 * D, 4 * D], -1)
        q, k, v = qkv.chunk(3, -1)
        shp = lambda z: z.view(*z.shape[:2], H, -1)
        q = _rms(shp(q), sd[p + "norm.query_norm.scale"]).flatten(2)
        k = _rms(shp(k), sd[p + "norm.key_norm.scale"]).flatten(2)
        o = _lin(sd, p + "linear2", torch.cat([_attn(q, k, v, H), F.gelu(mlp, approximate="tanh")], -1))
        h = h + g * o
    h = h[:, txt.shape[1]:]
    shift, scale = _lin(sd, "final_layer.adaLN_modulation.1", sv)[:, None].chunk(2, -1)
    return _lin(sd, "final_layer.linear", (1 + scale) * _ln(h) + shift)


def test_hunyuan_loader_numerical_parity_with_bfl_reference():
    cfg = DiTConfig.tiny(time_in_dim=256, flip_sin_to_cos=True, time_factor=1000.0)
    ours = ShapeDiT(cfg)
    _randomize(ours, 1)
    bfl = ck.ours_to_hunyuan(ours.state_dict())
    assert "final_layer.adaLN_modulation.1.weight" in bfl and "single_blocks.0.linear1.weight" in bfl
    fresh = ck.load_hunyuan3d2_dit(ShapeDiT(cfg), {"model." + k: v for k, v in bfl.items()})
    g = torch.Generator().manual_seed(3)
    x, cond = torch.randn(2, 12, cfg.in_channels, generator=g), torch.randn(2, 5, cfg.cross_attention_dim, generator=g)
    t = torch.tensor([0.3, 0.8])
    with torch.no_grad():
        ref = bfl_reference(bfl, x, t, cond, cfg)
        out = fresh(x, t, cond)
    assert (out - ref).abs().max() < 1e-5 * max(1.0, ref.abs().max())
    # the scale/shift swap matters: loading without it gives a different output (a strict load would not notice)
    wrong = ck.hunyuan_to_ours(bfl, cfg.width)
    wrong["norm_out.linear.weight"] = bfl["final_layer.adaLN_modulation.1.weight"]
    wrong["norm_out.linear.bias"] = bfl["final_layer.adaLN_modulation.1.bias"]
    bad = ShapeDiT(cfg)
    bad.load_state_dict(wrong, strict=True)
    with torch.no_grad():
        assert (bad(x, t, cond) - ref).abs().max() > 1e-3


def _seq_inputs(cfg, B=1, T=3, L=6, S=4, same_cond=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, L, cfg.in_channels, generator=g)
    c = torch.randn(B, 1 if same_cond else T, S, cfg.cross_attention_dim, generator=g).expand(B, T, S, -1)
    return x, torch.tensor([500.0] * B), c.contiguous()


def test_st_layers_zero_init_equal_the_base_model_per_frame():
    torch.manual_seed(0)
    m = ShapeDiT(DiTConfig.tiny(st_layers=True)).eval()
    x, t, c = _seq_inputs(m.cfg)
    with torch.no_grad():
        out = m(x, t, c)
        per = torch.stack([m(x[:, i], t, c[:, i]) for i in range(x.shape[1])], 1)  # 3-D calls: no ST layers
    assert (out - per).abs().max() <= 1e-6
    assert set(map(id, m.st_parameters())).isdisjoint(map(id, m.base_parameters()))


@pytest.mark.parametrize("mode", ["joint", "temporal"])
def test_rope_carries_frame_identity(mode):
    torch.manual_seed(0)
    for rope in (True, False):
        m = ShapeDiT(DiTConfig.tiny(st_layers=True, rope=rope, st_attention=mode)).eval()
        _randomize(m, 2)  # ST weights non-zero
        x, t, c = _seq_inputs(m.cfg, same_cond=True)
        perm = torch.tensor([2, 0, 1])
        with torch.no_grad():
            a = m(x, t, c)[:, perm]
            b = m(x[:, perm], t, c[:, perm])
        equivariant = (a - b).abs().max() < 1e-4 * a.abs().max()
        assert equivariant == (not rope)


def test_shared_noise_gives_identical_frames_with_zero_st():
    x0 = torch.zeros(2, 4, 6, 8)
    e = noise_like(x0, shared=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(e[:, 0], e[:, 3]) and not torch.equal(e[0], e[1])
    assert not torch.equal(noise_like(x0, False, torch.Generator().manual_seed(0))[:, 0],
                           noise_like(x0, False, torch.Generator().manual_seed(0))[:, 1])
    torch.manual_seed(0)
    m = ShapeDiT(DiTConfig.tiny(st_layers=True)).eval()
    _, _, c = _seq_inputs(m.cfg, T=4, same_cond=True)
    out = rf_sample(m, (1, 4, 6, 8), c, steps=4, shift=3.0, generator=torch.Generator().manual_seed(1))
    assert (out[:, 0] - out[:, 3]).abs().max() < 1e-5
    loss = rf_loss(m, torch.randn(1, 4, 6, 8), c, generator=torch.Generator().manual_seed(2))
    loss.backward()
    assert torch.isfinite(loss) and any(p.grad is not None for p in m.st_parameters())


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_sigma_grid_equals_diffusers_flow_match_scheduler(shift):
    from diffusers import FlowMatchEulerDiscreteScheduler
    s = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    s.set_timesteps(30)
    assert np.allclose(s.sigmas.numpy(), sigma_grid(30, shift), atol=1e-6)
    assert np.allclose(s.timesteps.numpy(), 1000 * sigma_grid(30, shift)[:-1], atol=1e-3)


def test_euler_sampler_reaches_gaussian_data_in_closed_form():
    """Data N(mu, s^2): the exact flow velocity is v(x, sigma) = E[eps - x0 | x_sigma]; 200 Euler steps from noise
    must land on the data mean and standard deviation within 1 % (Euler error is O(1/steps))."""
    mu, sd = 2.0, 0.5

    def v(x, t, cond):
        sig = (t / 1000.0).view(-1, *([1] * (x.ndim - 1)))
        var = (1 - sig) ** 2 * sd ** 2 + sig ** 2
        e_x0 = mu + (1 - sig) * sd ** 2 * (x - (1 - sig) * mu) / var
        e_eps = sig * (x - (1 - sig) * mu) / var
        return e_eps - e_x0

    out = rf_sample(v, (1, 1, 40000, 1), torch.zeros(1, 1, 1, 1), steps=200, shift=1.0, shared_noise=False,
                    generator=torch.Generator().manual_seed(0))
    assert abs(float(out.mean()) / mu - 1) < 0.01 and abs(float(out.std()) / sd - 1) < 0.01
    th, vh = to_hunyuan(torch.tensor(0.25), torch.tensor(1.0))
    assert float(th) == 0.75 and float(vh) == -1.0


def test_extract_sphere_from_analytic_tsdf():
    r = 0.6
    m = extract_mesh(lambda p: p.norm(dim=-1) - r, resolution=128, coarse=32)
    d = np.linalg.norm(m.vertices, axis=1)
    assert m.n_faces > 1000 and np.abs(d - r).mean() < 0.003 * 2 * r


def test_missing_weights_error_names_file(tmp_path, monkeypatch):
    from sdk.config import settings
    monkeypatch.setattr(settings, "weights_dir", str(tmp_path))
    with pytest.raises(MissingWeightsError, match="step1x-3d-geometry/vae/diffusion_pytorch_model.safetensors"):
        ck.load_pretrained()
