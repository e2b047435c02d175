"""SDS for v-prediction: the App. B identities with an oracle denoiser, schedules, Eq. 9 smoothness."""
import pytest
import torch

from sdk.motion import sds
from sdk.motion.losses import ground_loss, smoothness_loss


def zero_snr_alphas(T=1000):
    from diffusers import CogVideoXDDIMScheduler
    s = CogVideoXDDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                               prediction_type="v_prediction", rescale_betas_zero_snr=True, snr_shift_scale=1.0,
                               timestep_spacing="trailing", clip_sample=False, set_alpha_to_one=True)
    return s, s.alphas_cumprod.double()


def oracle_v(z_t, t, ac, z_star):
    """Point-mass data at z*: x̂ = z*  ⇔  v̂ = (α_t z_t − z*)/σ_t."""
    a, s = sds.alphas_sigmas(ac, t)
    return (sds._bc(a, z_t) * z_t - z_star) / sds._bc(s, z_t)


def test_v_form_equals_x0_form_and_eps_identity():
    sched, ac = zero_snr_alphas()
    assert float(ac[-1]) < 1e-8  # zero terminal SNR
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4, 3, 5, 6, generator=g, dtype=torch.float64)
    z_star = torch.randn(4, 3, 5, 6, generator=g, dtype=torch.float64)
    eps = torch.randn(z.shape, generator=g, dtype=torch.float64)
    t = torch.tensor([10, 400, 998, 999])
    z_t = sds.add_noise(z, eps, t, ac)
    # our forward process and velocity equal diffusers' scheduler
    assert torch.allclose(z_t, sched.add_noise(z, eps, t), atol=1e-10)
    assert torch.allclose(sds.velocity(z, eps, t, ac), sched.get_velocity(z, eps, t), atol=1e-10)
    v_hat = oracle_v(z_t, t[:3], ac, z_star[:3]) if False else None
    a, s = sds.alphas_sigmas(ac, t)
    # σ_t(v̂ − v) = z − x̂ for an arbitrary prediction v̂ (including t = 999 where α = 0)
    v_hat = torch.randn(z.shape, generator=g, dtype=torch.float64)
    gv = sds.sds_grad_v(z, eps, v_hat, t, ac)
    gx = sds.sds_grad_x0(z, z_t, v_hat, t, ac)
    assert torch.allclose(gv, gx, atol=1e-10)
    # ε̂ − ε = α_t (v̂ − v)
    e_hat = sds.eps_from_v(z_t, v_hat, t, ac)
    assert torch.allclose(e_hat - eps, sds._bc(a, z) * (v_hat - sds.velocity(z, eps, t, ac)), atol=1e-10)
    # at t = 999 the ε-form vanishes, the v-form does not
    assert float((e_hat - eps)[3].abs().max()) < 1e-6 and float(gv[3].abs().max()) > 0.1
    # oracle at t < 999: the gradient is exactly z − z*
    t2 = torch.tensor([10, 400, 700, 990])
    z_t2 = sds.add_noise(z, eps, t2, ac)
    vo = oracle_v(z_t2, t2, ac, z_star)
    assert torch.allclose(sds.sds_grad_v(z, eps, vo, t2, ac), z - z_star, atol=1e-8)


def test_adam_with_oracle_sds_converges_to_the_mode():
    _, ac = zero_snr_alphas()
    z_star = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    z = torch.zeros_like(z_star, requires_grad=True)
    guide = sds.LatentSDS(lambda x: x, lambda zt, t: (oracle_v(zt, t, ac, torch.zeros_like(z_star)),
                                                      oracle_v(zt, t, ac, z_star)),
                          ac, guidance_scale=1.0, generator=torch.Generator().manual_seed(1))
    opt = torch.optim.Adam([z], lr=5e-2)
    for it in range(400):
        opt.zero_grad()
        sds.sds_loss(z, guide.grad(z, it)).backward()
        opt.step()
    assert float((z - z_star).norm() / z_star.norm()) < 1e-3 * 10  # Adam's steady jitter at lr 5e-2


def test_cfg_and_surrogate_gradient():
    z = torch.randn(2, 3, requires_grad=True)
    g = torch.randn(2, 3)
    sds.sds_loss(z, g).backward()
    assert torch.allclose(z.grad, g / 2)
    assert torch.allclose(sds.cfg_combine(torch.zeros(3), torch.ones(3), 7.5), torch.full((3,), 7.5))


def test_timestep_schedule_decreases_linearly_over_the_first_half():
    s = sds.TimestepSchedule()
    assert s.bounds(0) == (500, 980)
    assert s.bounds(2500) == (260, 740)
    assert s.bounds(5000) == (20, 500) == s.bounds(10000)
    t = s.sample(2500, 1000, torch.Generator().manual_seed(0))
    assert int(t.min()) >= 260 and int(t.max()) < 740


def test_smoothness_and_ground_losses():
    f = torch.arange(6, dtype=torch.float64)
    lin = torch.stack([f * 0.3 + 1, -f * 0.1], 1)
    assert float(smoothness_loss(lin)) < 1e-14
    quad = lin.clone()
    quad[:, 0] = f ** 2
    assert abs(float(smoothness_loss(quad)) - 1.0) < 1e-12  # |Δ²(f²)| = 2 on one of two channels
    c = torch.tensor([[0.0, -0.1, 0.0], [0.0, 0.5, 0.0]])
    assert abs(float(ground_loss(c, 0.0, 2.0)) - 0.025) < 1e-9
