import torch

from sdk.models.sp4d.sampler import karras_sigmas, precondition, sample_edm
from sdk.models.sp4d.unet import SP4DConfig, SP4DUNet


def _model(**kw):
    torch.manual_seed(0)
    cfg = SP4DConfig.tiny()
    for k, v in kw.items():
        setattr(cfg, k, v)
    return SP4DUNet(cfg).eval()


def test_tiny_forward_shapes_and_config_roundtrip():
    m = _model()
    x = m.example_inputs(2)
    out, feat = m.forward_features(*x)
    c = m.cfg
    assert out.shape == (2, c.num_views, c.num_frames, 2 * c.latent_channels, c.latent_size, c.latent_size)
    assert feat.shape == (2 * c.num_views * c.num_frames, c.model_channels, c.latent_size, c.latent_size)
    assert torch.isfinite(out).all()
    assert SP4DConfig.from_dict(c.to_dict()) == c
    full = SP4DConfig.full()
    assert (full.num_views, full.num_frames, full.latent_size, full.adm_in_channels) == (4, 12, 72, 1280)


def test_backward_reaches_both_branches_and_bidifuse():
    m = _model().train()
    # make BiDiFuse non-trivial so gradients flow through its first conv too
    for fz in m.bidifuse_input:
        torch.nn.init.normal_(fz.net[2].weight, std=0.01)
    out = m(*m.example_inputs(1))
    out.square().mean().backward()
    for name in ("branch_rgb.input_blocks.0.0.weight", "branch_part.out.2.weight",
                 "branch_part.middle_block.1.time_mixer.mix_factor", "bidifuse_input.0.net.0.weight",
                 "bidifuse_middle.net.2.weight"):
        g = dict(m.named_parameters())[name].grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, name


def test_bidifuse_zero_init_is_identity_and_exchanges_information():
    m = _model()
    x = m.example_inputs(1)
    with torch.no_grad():
        a = m(*x)
        m.cfg.bidifuse = False
        b = m(*x)
        m.cfg.bidifuse = True
        # without fusion the part half does not depend on the RGB half
        x2 = (x[0].clone(),) + x[1:]
        x2[0][:, :, :, :4] += 1.0
        assert torch.allclose(a, b, atol=1e-6)
        c = m(*x2)
        assert torch.allclose(c[:, :, :, 4:], a[:, :, :, 4:], atol=1e-6)
        for fz in list(m.bidifuse_input) + [m.bidifuse_middle]:
            torch.nn.init.normal_(fz.net[2].weight, std=0.05)
        d1 = m(*x)
        d2 = m(*x2)
        assert (d2[:, :, :, 4:] - d1[:, :, :, 4:]).abs().max() > 1e-4


def test_stage1_branch_alone_and_init_from_rgb():
    m = _model()
    x = m.example_inputs(1)
    rgb_in = (x[0][:, :, :, :4],) + x[1:]
    with torch.no_grad():
        y = m.branch_rgb(*rgb_in)
        m.init_from_rgb_branch()
        y2 = m.branch_part(*rgb_in)
    assert y.shape == rgb_in[0].shape
    assert torch.allclose(y, y2)


def test_karras_sigmas_and_gaussian_sampler_statistics():
    s = karras_sigmas(20, 0.002, 80.0)
    assert s.shape == (21,) and s[-1] == 0 and (s[:-1] > s[1:]).all()
    assert abs(float(s[0]) - 80) < 1e-3
    sd = 0.5  # data ~ N(0, sd^2): exact denoiser D = x * sd^2 / (sigma^2 + sd^2)
    den = lambda x, sig: x * sd ** 2 / (sig.view(-1, 1) ** 2 + sd ** 2)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(4000, 8, generator=g)
    # Heun (2nd order) is close to exact; Euler (1st order) shrinks the spread at 30 steps but not by much
    for heun, tol in ((True, 0.02), (False, 0.06)):
        out = sample_edm(den, noise, karras_sigmas(30), heun=heun)
        assert abs(float(out.std()) - sd) < tol, (heun, float(out.std()))
    # starting from pure noise without denoising would keep sigma_max spread: the sampler really contracts
    assert float(out.std()) < 1.0


def test_sampler_with_tiny_unet_and_known_clamp():
    m = _model()
    x, c_noise, cond, ctx, cam, aug = m.example_inputs(1)
    fn = lambda xx, sig: precondition(m, xx, sig, cond, ctx, cam, aug)
    known = torch.randn_like(x)
    mask = torch.zeros_like(x)
    mask[:, :, :, :4] = 1
    with torch.no_grad():
        out = sample_edm(fn, torch.randn_like(x), karras_sigmas(2, sigma_max=5.0), heun=True, known=known,
                         known_mask=mask)
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert torch.allclose(out[:, :, :, :4], known[:, :, :, :4])


def test_precondition_per_half_sigma_and_clean_known_sampling():
    m = _model()
    x, _, cond, ctx, cam, aug = m.example_inputs(1)
    sigma = torch.tensor([3.0])
    with torch.no_grad():
        # per-element levels equal to sigma everywhere == the plain preconditioning
        sx = torch.full((1, 1, 1, 8, 1, 1), 3.0)
        assert torch.allclose(precondition(m, x, sigma, cond, ctx, cam, aug),
                              precondition(m, x, sigma, cond, ctx, cam, aug, sigma_x=sx), atol=1e-5)
        # RGB half at level 0: passed through unchanged, and the network sees it unscaled (c_in = 1)
        sx[:, :, :, :4] = 0
        seen = {}

        def net(inp, c_noise, *a):
            seen["in"] = inp
            return m(inp, c_noise, *a)
        d = precondition(net, x, sigma, cond, ctx, cam, aug, sigma_x=sx)
        assert torch.equal(d[:, :, :, :4], x[:, :, :, :4])
        assert torch.allclose(seen["in"][:, :, :, :4], x[:, :, :, :4])
        assert torch.allclose(seen["in"][:, :, :, 4:], x[:, :, :, 4:] / 10 ** 0.5)
        known = torch.randn_like(x)
        mask = torch.zeros_like(x)
        mask[:, :, :, :4] = 1
        level = torch.cat([torch.zeros(4), torch.ones(4)]).view(1, 1, 1, 8, 1, 1)   # RGB half clean
        fn = lambda xx, sig: precondition(m, xx, sig, cond, ctx, cam, aug, sigma_x=level * sig.view(-1, 1, 1, 1, 1, 1))
        out = sample_edm(fn, torch.randn_like(x), karras_sigmas(1, sigma_max=5.0), heun=False, known=known,
                         known_mask=mask, known_noise=False)
    assert torch.equal(out[:, :, :, :4], known[:, :, :, :4]) and torch.isfinite(out).all()
