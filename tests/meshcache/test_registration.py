"""Registration + texture propagation: ARAP rotation invariance, the largesteps solve, similarity alignment,
closest-point transfer, and a small end-to-end registration with known correspondences."""
import numpy as np
import pytest
import torch

from sdk.core import Mesh, MeshFrames
from sdk.errors import InvalidInputError
from sdk.registration import (ARAP, RegistrationConfig, Similarity, SmoothParam, register_frames, rigid_align,
                              transfer_attributes)
from sdk.registration.kernels import closest_points_on_mesh, unique_edges
from sdk.registration.rigid import _rot


def _blob(res=28, shift=np.zeros(3)):
    """Marching-cubed asymmetric blob (ellipsoid + off-centre bump) -> Mesh."""
    from skimage.measure import marching_cubes
    g = np.linspace(-1.3, 1.3, res)
    X, Y, Z = np.meshgrid(g + shift[0], g + shift[1], g + shift[2], indexing="ij")
    sdf = np.minimum(np.sqrt((X / 1.0) ** 2 + (Y / 0.6) ** 2 + (Z / 0.45) ** 2) - 1,
                     np.sqrt((X - 0.6) ** 2 + (Y - 0.45) ** 2 + Z ** 2) - 0.35)
    v, f, _, _ = marching_cubes(sdf, 0.0, spacing=(g[1] - g[0],) * 3)
    return Mesh(v + g[0] + shift, f[:, ::-1].astype(np.int64))  # the same shape, sampled on a shifted grid


def _random_rotation(rng):
    """A uniformly random rotation: a normalised Gaussian quaternion (w, x, y, z)."""
    from sdk.core.transforms import quat_to_matrix
    return quat_to_matrix(rng.normal(size=4))


def test_arap_rigid_motion_has_zero_energy_and_gradient():
    rng = np.random.default_rng(0)
    m = _blob(20)
    rest = torch.as_tensor(m.vertices)
    arap = ARAP(rest, unique_edges(m.faces))
    R = torch.as_tensor(_random_rotation(rng))
    x = (rest @ R.T + torch.tensor([0.3, -1.0, 2.0])).requires_grad_(True)
    e = arap.energy(x)
    e.backward()
    x_def = (rest + 0.05 * torch.randn_like(rest)).requires_grad_(True)
    e_def = arap.energy(x_def)
    assert float(e) <= 1e-8 * float(e_def)
    assert float(x.grad.abs().max()) < 1e-9
    # the transposed rotation (V2M4's R = U V^T) is not invariant: it penalises the same rigid motion
    with torch.no_grad():
        Rt = arap.rotations(x).transpose(-1, -2)
    assert float(arap.energy(x.detach(), Rt)) > 1e-3 * float(e_def)
    # reflections are never chosen
    assert torch.all(torch.det(arap.rotations(x_def.detach())) > 0)


def test_arap_gradient_matches_finite_differences():
    m = _blob(14)
    rest = torch.as_tensor(m.vertices)
    arap = ARAP(rest, unique_edges(m.faces))
    x = (rest + 0.05 * torch.randn_like(rest, generator=torch.Generator().manual_seed(1))).requires_grad_(True)
    arap.energy(x).backward()
    d = torch.randn_like(rest, generator=torch.Generator().manual_seed(2))
    h = 1e-6
    with torch.no_grad():
        fd = (arap.energy(x + h * d) - arap.energy(x - h * d)) / (2 * h)
    assert abs(float(fd) - float((x.grad * d).sum())) < 1e-5 * abs(float(fd)) + 1e-9


def test_largesteps_solve_and_its_gradient():
    m = _blob(16)
    n = m.n_vertices
    p = SmoothParam(n, unique_edges(m.faces), 10.0, torch.device("cpu"))
    x = torch.as_tensor(m.vertices, dtype=torch.float32)
    u = p.to_u(x)
    assert torch.allclose(p.to_x(u), x, atol=1e-4)
    # d/du of <w, M^-1 u> is M^-1 w
    u = u.clone().requires_grad_(True)
    w = torch.randn(n, 3)
    (p.to_x(u) * w).sum().backward()
    Mg = torch.sparse.mm(p.M_t, u.grad)
    assert torch.allclose(Mg, w, atol=1e-3)


@pytest.mark.parametrize("yaw", [20.0, 150.0])
def test_rigid_align_recovers_similarity(yaw):
    rng = np.random.default_rng(3)
    m = _blob(24)
    pts = m.vertices
    T = Similarity(1.15, _rot(1, np.deg2rad(yaw)) @ _rot(2, np.deg2rad(10)), np.array([0.2, -0.1, 0.3]))
    dst = T.apply(pts[rng.permutation(len(pts))])
    est, cd = rigid_align(pts, dst)
    ang = np.degrees(np.arccos(np.clip((np.trace(est.R @ T.R.T) - 1) / 2, -1, 1)))
    assert ang < 2.0 and abs(est.s / T.s - 1) < 0.01 and cd < 0.02


def test_closest_points_and_transfer_are_exact_on_the_surface():
    rng = np.random.default_rng(4)
    m = _blob(16)
    fi = rng.integers(0, m.n_faces, 500)
    b = rng.dirichlet(np.ones(3), 500)
    q = (m.vertices[m.faces[fi]] * b[..., None]).sum(1)
    p, f2, b2, d = closest_points_on_mesh(q + 1e-9, m.vertices, m.faces)
    assert d.max() < 1e-6
    attrs = np.c_[m.vertices[:, 0] * 2 + 1, m.vertices[:, 1] - m.vertices[:, 2]]  # linear in position: exact
    out = transfer_attributes(m, attrs, q)
    assert np.abs(out - np.c_[q[:, 0] * 2 + 1, q[:, 1] - q[:, 2]]).max() < 1e-6


@pytest.mark.parametrize("mode", ["template", "chain"])
def test_register_rigidly_moving_blob_recovers_correspondences(mode):
    """Per-frame re-meshed blob (unrelated topology: sampled on shifted grids) under a known rigid motion:
    registered template vertices must land where the motion takes them."""
    rng = np.random.default_rng(5)
    frames, motions = [], []
    for t in range(3):
        R = _rot(1, np.deg2rad(6 * t)) @ _rot(0, np.deg2rad(3 * t))
        tr = np.array([0.04 * t, 0.02 * t, 0.0])
        m = _blob(20, shift=rng.uniform(-0.03, 0.03, 3))  # a different sampling grid per frame
        frames.append(Mesh(m.vertices @ R.T + tr, m.faces))
        motions.append((R, tr))
    fr = MeshFrames(frames, fps=10)
    seq, rep = register_frames(fr, RegistrationConfig(mode=mode, iterations=20))
    rest = frames[0].vertices
    diag = frames[0].bbox_diagonal
    for t, (R, tr) in enumerate(motions):
        err = np.linalg.norm(seq.vertices[t] - (rest @ R.T + tr), axis=1).mean() / diag
        assert err < 0.01, (t, err)
    assert seq.n_vertices == frames[0].n_vertices and np.array_equal(seq.faces, frames[0].faces)
    assert rep["mode"] == mode and len(rep["per_frame"]) == 3


def test_register_bad_input_names_frame():
    m = _blob(16)
    with pytest.raises(InvalidInputError, match="frame 2"):
        register_frames(MeshFrames([m, m, Mesh(m.vertices * 10, m.faces)]))
    with pytest.raises(InvalidInputError, match="1 frame"):
        register_frames(MeshFrames([m]))
    far = Mesh(m.vertices + [5.0, 0, 0], m.faces)
    with pytest.raises(InvalidInputError, match="frame 1 is far"):
        register_frames(MeshFrames([m, _blob(16, np.array([0.0, 0.0, 0.0])) if False else far]),
                        RegistrationConfig(rigid=False))
    nanm = Mesh(m.vertices.copy(), m.faces)
    nanm.vertices[3] = np.nan
    with pytest.raises(InvalidInputError, match="frame 1"):
        register_frames(MeshFrames([m, nanm]))


def test_device_resident_solvers_and_neighbours_match_the_host_path():
    """The GPU path's pieces run on the CPU too: the dense-inverse and CG solves equal the sparse LU solve, the
    mat-mul nearest neighbours equal the k-d tree's, and a registration with both equals the default host path."""
    from sdk.registration.kernels import knn1
    m = _blob(16)
    e = unique_edges(m.faces)
    b = torch.randn(m.n_vertices, 3, generator=torch.Generator().manual_seed(7))
    ref = SmoothParam(m.n_vertices, e, 20.0, torch.device("cpu")).solve(b)
    for method in ("dense", "cg"):
        p = SmoothParam(m.n_vertices, e, 20.0, torch.device("cpu"), method=method)
        assert p.method == method
        assert torch.allclose(p.solve(b), ref, atol=1e-4), method
    q = torch.rand(700, 3, generator=torch.Generator().manual_seed(8))
    r = torch.rand(900, 3, generator=torch.Generator().manual_seed(9))
    d_k, j_k = knn1(q, r, method="kdtree")
    d_b, j_b = knn1(q, r, method="brute", chunk=256)
    assert torch.allclose(d_k, d_b, atol=1e-6) and (j_k == j_b).float().mean() > 0.99
    rng = np.random.default_rng(5)
    frames = []
    for t in range(3):
        R = _rot(1, np.deg2rad(6 * t))
        mt = _blob(20, shift=rng.uniform(-0.03, 0.03, 3))
        frames.append(Mesh(mt.vertices @ R.T + [0.04 * t, 0, 0], mt.faces))
    fr = MeshFrames(frames, fps=10)
    host, rep_h = register_frames(fr, RegistrationConfig(iterations=20))
    dev, rep_d = register_frames(fr, RegistrationConfig(iterations=20, solver="dense", nn="brute"))
    assert rep_h["solver"] == "lu" and rep_d["solver"] == "dense"
    diff = np.linalg.norm(host.vertices - dev.vertices, axis=-1) / frames[0].bbox_diagonal
    assert diff.mean() < 1e-4 and diff.max() < 2e-3, (diff.mean(), diff.max())
