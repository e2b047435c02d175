"""The pure-torch Gaussian splatter: camera convention, compositing semantics, gradients, LBS covariances, SH."""
import math

import numpy as np
import pytest
import torch

from sdk.errors import InvalidInputError
from sdk.render import orbit_cameras, project
from sdk.render.gaussians import (ALPHA_THRESHOLD, T_THRESHOLD, covariance_from_quat_scale, eval_sh,
                                  gaussians_from_mesh, gsplat_cameras, lbs_gaussians, project_gaussians,
                                  render_gaussians, sh_basis)


def _scene(n=300, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g, dtype=dtype) * 0.3
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = torch.rand(n, 3, generator=g, dtype=dtype) * 0.05 + 0.01
    op = torch.rand(n, generator=g, dtype=dtype) * 0.9 + 0.05
    col = torch.rand(n, 3, generator=g, dtype=dtype)
    return means, quats, scales, op, col


def _brute_force(means, quats, scales, op, col, cams, bg):
    """Literal per-pixel loop of gsplat's classic kernel (depth order, 1/255 skip, 1e-4 stop)."""
    vm, ks = gsplat_cameras(cams)
    c = len(cams)
    cov = covariance_from_quat_scale(quats, scales)[None].expand(c, -1, -1, -1)
    m2, con, dep, _, valid = project_gaussians(means[None].expand(c, -1, -1), cov, vm, ks, cams.width, cams.height)
    h, w = cams.height, cams.width
    out = np.zeros((c, h, w, 3))
    alpha = np.zeros((c, h, w))
    for ci in range(c):
        order = [int(i) for i in torch.argsort(dep[ci], stable=True) if bool(valid[ci, i])]
        for y in range(h):
            for x in range(w):
                t, acc = 1.0, np.zeros(3)
                for i in order:
                    dx, dy = x + 0.5 - float(m2[ci, i, 0]), y + 0.5 - float(m2[ci, i, 1])
                    a_, b_, c_ = con[ci, i].tolist()
                    s = 0.5 * (a_ * dx * dx + c_ * dy * dy) + b_ * dx * dy
                    al = min(0.999, float(op[i]) * math.exp(-s))
                    if s < 0 or al < ALPHA_THRESHOLD:
                        continue
                    nt = t * (1 - al)
                    if nt <= T_THRESHOLD:
                        break
                    acc += al * t * col[i].numpy()
                    t = nt
                out[ci, y, x] = acc + t * bg
                alpha[ci, y, x] = 1 - t
    return out, alpha


def test_reference_matches_literal_kernel_loop():
    means, quats, scales, op, col = _scene(40, seed=1)
    op[:5] = 1.0  # exercise the 0.999 clamp and the transmittance stop
    cams = orbit_cameras([0.4, 2.2], 0.3, radius=1.6, width=20, height=16)
    r = render_gaussians(means, quats, scales, op, col, cams, background=0.5, backend="torch")
    ref_rgb, ref_a = _brute_force(means, quats, scales, op, col, cams, 0.5)
    assert np.abs(r.rgb.numpy() - ref_rgb).max() < 1e-4
    assert np.abs(r.alpha.numpy() - ref_a).max() < 1e-4
    assert r.alpha.max() > 0.5  # the scene is visible


def test_row_bands_do_not_change_the_image():
    means, quats, scales, op, col = _scene(500, seed=2)
    cams = orbit_cameras([0.0], 0.2, radius=2.0, width=48)
    a = render_gaussians(means, quats, scales, op, col, cams, backend="torch")
    b = render_gaussians(means, quats, scales, op, col, cams, backend="torch", max_pairs=2000)
    assert torch.allclose(a.rgb, b.rgb, atol=1e-6) and torch.allclose(a.depth, b.depth, atol=1e-5)


def test_camera_convention_single_gaussian_lands_on_sdk_projection():
    cams = orbit_cameras([0.3, 1.9, -2.5], [0.2, -0.4, 0.7], radius=2.2, width=64, height=48)
    p = torch.tensor([[0.13, -0.07, 0.21]])
    r = render_gaussians(p, torch.tensor([[1.0, 0, 0, 0]]), torch.full((1, 3), 0.02), torch.ones(1),
                         torch.ones(1, 3), cams, backend="torch")
    uv, depth = project(p, cams)
    ys, xs = torch.meshgrid(torch.arange(48) + 0.5, torch.arange(64) + 0.5, indexing="ij")
    for c in range(3):
        w = r.alpha[c]
        centroid = torch.stack([(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()])
        assert (centroid - uv[c, 0]).abs().max() < 0.05  # symmetric blob: centroid = projected mean
        assert abs(float(r.depth[c][w > 0.5].mean()) - float(depth[c, 0])) < 1e-4
    vm, _ = gsplat_cameras(cams)
    z_cv = (vm[:, :3, :3] @ p[0] + vm[:, :3, 3])[:, 2]
    assert (z_cv > 0).all()  # OpenCV: in front of the camera means +Z


def test_depth_ordering_front_occludes_back():
    cams = orbit_cameras([0.0], 0.0, radius=3.0, width=32)  # camera on +Z looking at -Z
    means = torch.tensor([[0.0, 0.0, 0.5], [0.0, 0.0, -0.5]])  # first is nearer
    cols = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    r = render_gaussians(means, torch.tensor([[1.0, 0, 0, 0]] * 2), torch.full((2, 3), 0.1), torch.ones(2) * 0.99,
                         cols, cams, backend="torch")
    centre = r.rgb[0, 16, 16]
    assert centre[0] > 0.85 and centre[2] < 0.08
    swapped = render_gaussians(means.flip(0), torch.tensor([[1.0, 0, 0, 0]] * 2), torch.full((2, 3), 0.1),
                               torch.ones(2) * 0.99, cols.flip(0), cams, backend="torch")
    assert swapped.rgb[0, 16, 16, 0] > 0.85  # order in the array does not matter, depth does


def test_gradients_match_finite_differences():
    means, quats, scales, op, col = _scene(30, seed=3, dtype=torch.float64)
    cams = orbit_cameras([0.5], 0.3, radius=1.8, width=24)
    target = torch.rand(1, 24, 24, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    means.requires_grad_(True)
    op.requires_grad_(True)
    col.requires_grad_(True)

    def loss():
        r = render_gaussians(means, quats, scales, op, col, cams, backend="torch", background=0.3)
        return ((r.rgb - target) ** 2).sum() + r.alpha.sum()

    loss().backward()
    for t, idx in ((means, (3, 0)), (means, (7, 1)), (op, (4,)), (col, (5, 2))):
        eps = 1e-6
        with torch.no_grad():
            t[idx] += eps
            lp = float(loss())
            t[idx] -= 2 * eps
            lm = float(loss())
            t[idx] += eps
        fd = (lp - lm) / (2 * eps)
        assert abs(fd - float(t.grad[idx])) < 1e-4 * max(1.0, abs(fd)), (idx, fd, float(t.grad[idx]))
    assert means.grad.abs().sum() > 0


def test_covariance_path_equals_quat_scale_path_and_lbs():
    means, quats, scales, op, col = _scene(200, seed=4)
    cams = orbit_cameras([0.2, 1.2], 0.3, radius=2.0, width=40)
    a = render_gaussians(means, quats, scales, op, col, cams, backend="torch")
    cov = covariance_from_quat_scale(quats, scales)
    b = render_gaussians(means, covars=cov, opacities=op, colors=col, camera=cams, backend="torch")
    assert torch.allclose(a.rgb, b.rgb, atol=1e-5)
    # one bone rotating everything rigidly == rotating the means and the quaternions
    ang = 0.7
    rot = torch.tensor([[math.cos(ang), 0, math.sin(ang)], [0, 1, 0], [-math.sin(ang), 0, math.cos(ang)]])
    tf = torch.eye(4)
    tf[:3, :3] = rot
    tf[:3, 3] = torch.tensor([0.1, 0.0, -0.05])
    tfs = torch.stack([tf, tf])  # two bones, same transform
    wts = torch.rand(200, 2)
    wts = wts / wts.sum(1, keepdim=True)
    mu, cv = lbs_gaussians(means, cov, wts, tfs)
    qr = torch.tensor([math.cos(ang / 2), 0, math.sin(ang / 2), 0])
    w0, v0 = qr[0], qr[1:]
    w1, v1 = quats[:, 0], quats[:, 1:]
    q2 = torch.cat([(w0 * w1 - (v1 @ v0))[:, None], w0 * v1 + w1[:, None] * v0 + torch.cross(v0.expand_as(v1), v1,
                                                                                              dim=-1)], 1)
    c = render_gaussians(means @ rot.T + tf[:3, 3], q2, scales, op, col, cams, backend="torch")
    d = render_gaussians(mu, covars=cv, opacities=op, colors=col, camera=cams, backend="torch")
    assert torch.allclose(c.rgb, d.rgb, atol=1e-4)
    # per-camera poses: camera c renders frame c
    e = render_gaussians(torch.stack([means, mu]), covars=torch.stack([cov, cv]), opacities=op, colors=col,
                         camera=cams, backend="torch")
    assert torch.allclose(e.rgb[0], a.rgb[0], atol=1e-5) and torch.allclose(e.rgb[1], d.rgb[1], atol=1e-5)


def test_sh_basis_is_orthonormal_and_degree_zero_is_dc():
    # quadrature on a fine (theta, phi) grid: integral Y_i Y_j dOmega = delta_ij
    th = (torch.arange(400, dtype=torch.float64) + 0.5) * math.pi / 400
    ph = (torch.arange(800, dtype=torch.float64) + 0.5) * 2 * math.pi / 800
    t, p = torch.meshgrid(th, ph, indexing="ij")
    d = torch.stack([torch.sin(t) * torch.cos(p), torch.sin(t) * torch.sin(p), torch.cos(t)], -1)
    y = sh_basis(d, 3).reshape(-1, 16)
    dw = (torch.sin(t) * (math.pi / 400) * (2 * math.pi / 800)).reshape(-1, 1)
    gram = (y * dw).T @ y
    assert torch.allclose(gram, torch.eye(16, dtype=torch.float64), atol=2e-4)
    # closed forms: Y_1^0 = sqrt(3/4pi) z; Y_2^0 = sqrt(5/16pi)(3z^2-1)
    z = d[..., 2].reshape(-1)
    assert torch.allclose(y[:, 2], math.sqrt(3 / (4 * math.pi)) * z, atol=1e-9)
    assert torch.allclose(y[:, 6], math.sqrt(5 / (16 * math.pi)) * (3 * z * z - 1), atol=1e-9)
    sh = torch.zeros(5, 16, 3)
    sh[:, 0] = torch.rand(5, 3)
    out = eval_sh(sh, torch.randn(5, 3))
    assert torch.allclose(out, 0.28209479177387814 * sh[:, 0], atol=1e-7)


def test_sh_colours_render_like_rgb():
    means, quats, scales, op, col = _scene(50, seed=5)
    sh = ((col - 0.5) / 0.28209479177387814)[:, None]
    cams = orbit_cameras([0.1], 0.1, width=24)
    a = render_gaussians(means, quats, scales, op, col, cams, backend="torch")
    b = render_gaussians(means, quats, scales, op, camera=cams, sh=sh, backend="torch")
    assert torch.allclose(a.rgb, b.rgb, atol=1e-5)


def test_gaussians_from_mesh_covers_the_mesh():
    # a unit quad split in two triangles, coloured per vertex
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    f = np.array([[0, 1, 2], [0, 2, 3]])
    vc = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], dtype=float)
    g = gaussians_from_mesh(v, f, vertex_colors=vc, per_face=3).validate()
    assert g.n == 4 + 2 * 3
    assert np.allclose(g.colors[:4], vc, atol=1e-6)
    # barycentric colours: every face sample's colour is the barycentric mix of its triangle's colours
    assert np.all(g.means[4:, 2] == 0) and np.all((g.means[4:, :2] >= 0) & (g.means[4:, :2] <= 1))
    assert np.allclose(g.scales[:4], 0.25, atol=1e-6)  # 0.25 x the shortest incident edge (1)
    # face Gaussians are flat along the face normal (+-Z here)
    from sdk.core.transforms import quat_to_matrix
    r = quat_to_matrix(g.quats[4:])
    assert np.allclose(np.abs(r[:, :, 0] @ np.array([0, 0, 1.0])), 1.0, atol=1e-6)  # local x = the normal
    assert (g.scales[4:, 0] < g.scales[4:, 1]).all() and np.allclose(np.linalg.det(r), 1.0, atol=1e-5)
    # the face Gaussians' covariance is the triangle's second moment / k (sum of the in-plane variances)
    tri = v[f[0]]
    c = tri - tri.mean(0)
    assert np.isclose((g.scales[4] ** 2)[1:].sum(), np.trace(c.T @ c / 12 / 3), rtol=1e-4)
    with pytest.raises(InvalidInputError, match="vertex 1"):
        gaussians_from_mesh(np.array([[0, 0, 0], [np.nan, 0, 0], [0, 1, 0]]), np.array([[0, 1, 2]]))


def test_bad_input_is_named():
    means, quats, scales, op, col = _scene(5)
    cams = orbit_cameras([0.0], 0.0, width=8)
    with pytest.raises(InvalidInputError, match="opacities"):
        render_gaussians(means, quats, scales, op[:3], col, cams, backend="torch")
    bad = orbit_cameras([0.0, 1.0], 0.0, width=8)
    bad.world_to_cam[1, 0, 3] = float("nan")
    with pytest.raises(InvalidInputError, match="camera 1"):
        render_gaussians(means, quats, scales, op, col, bad, backend="torch")
    with pytest.raises(InvalidInputError, match="backend"):
        render_gaussians(means, quats, scales, op, col, cams, backend="vulkan")
    with pytest.raises(InvalidInputError, match="CUDA"):
        render_gaussians(means, quats, scales, op, col, cams, backend="gsplat")


def test_20k_gaussians_at_256_fit_cpu_memory():
    means, quats, scales, op, col = _scene(20000, seed=6)
    scales = scales * 0.5
    cams = orbit_cameras([0.0], 0.2, width=256)
    r = render_gaussians(means, quats, scales, op, col, cams, backend="torch", max_pairs=1 << 21)
    assert r.rgb.shape == (1, 256, 256, 3) and float(r.alpha.max()) > 0.9
