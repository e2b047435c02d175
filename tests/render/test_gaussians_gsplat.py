"""Reference splatter vs gsplat on CUDA (runs on the GPU machine; skipped where gsplat or CUDA is absent)."""
import math

import pytest
import torch

from sdk.render import orbit_cameras
from sdk.render.gaussians import covariance_from_quat_scale, gsplat_available, lbs_gaussians, render_gaussians

pytestmark = pytest.mark.skipif(not gsplat_available(), reason="needs CUDA and the gsplat package (JIT build)")


def _scene(n, seed):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g) * 0.3
    quats = torch.randn(n, 4, generator=g)
    scales = torch.rand(n, 3, generator=g) * 0.04 + 0.005
    op = torch.rand(n, generator=g) * 0.9 + 0.05
    col = torch.rand(n, 3, generator=g)
    sh = torch.randn(n, 16, 3, generator=g) * 0.2
    return [t.cuda() for t in (means, quats, scales, op, col, sh)]


@pytest.mark.parametrize("n,width,height", [(2000, 128, 96), (800, 64, 64)])
def test_parity_rgb_alpha_depth(n, width, height):
    means, quats, scales, op, col, sh = _scene(n, n)
    cams = orbit_cameras([0.0, 1.3, 2.9, 4.4], [0.26, 0.26, -0.4, 0.9], radius=1.8, width=width,
                         height=height).to("cuda")
    ref = render_gaussians(means, quats, scales, op, col, cams, backend="torch", background=0.5)
    gs = render_gaussians(means, quats, scales, op, col, cams, backend="gsplat", background=0.5)
    assert (ref.rgb - gs.rgb).abs().max() <= 1e-3
    assert (ref.alpha - gs.alpha).abs().max() <= 1e-3
    m = ref.alpha > 0.5
    assert ((ref.depth - gs.depth).abs()[m]).max() <= 1e-3 * float(ref.depth[m].max())
    # SH colours, covariance input, per-camera poses
    ref = render_gaussians(means, quats, scales, op, camera=cams, sh=sh, backend="torch")
    gs = render_gaussians(means, quats, scales, op, camera=cams, sh=sh, backend="gsplat")
    assert (ref.rgb - gs.rgb).abs().max() <= 1e-3
    cov = covariance_from_quat_scale(quats, scales)
    tf = torch.eye(4, device="cuda").repeat(4, 2, 1, 1)  # [C(frames), J, 4, 4]
    for c in range(4):
        a = 0.3 * c
        tf[c, 1, :3, :3] = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    w = torch.rand(n, 2, device="cuda")
    w = w / w.sum(1, keepdim=True)
    mu, cv = lbs_gaussians(means, cov, w, tf)
    ref = render_gaussians(mu, covars=cv, opacities=op, colors=col, camera=cams, backend="torch")
    gs = render_gaussians(mu, covars=cv, opacities=op, colors=col, camera=cams, backend="gsplat")
    assert (ref.rgb - gs.rgb).abs().max() <= 1e-3 and (ref.alpha - gs.alpha).abs().max() <= 1e-3


def test_gradients_agree():
    means, quats, scales, op, col, _ = _scene(500, 7)
    cams = orbit_cameras([0.3, 2.0], 0.2, radius=1.8, width=64).to("cuda")
    grads = []
    for backend in ("torch", "gsplat"):
        ps = [t.clone().requires_grad_(True) for t in (means, op, col)]
        r = render_gaussians(ps[0], quats, scales, ps[1], ps[2], cams, backend=backend, background=0.5)
        (r.rgb.square().sum() + r.alpha.sum()).backward()
        grads.append([p.grad for p in ps])
    for a, b in zip(*grads):
        rel = (a - b).norm() / b.norm().clamp_min(1e-12)
        assert rel < 2e-2, float(rel)
