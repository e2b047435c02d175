"""4D-GS tracking pieces: carrying the time planes forward, the fit's wall-time limit, the barycentric embedding of
the canonical Gaussians and the true-motion oracle used by the evaluation."""
import numpy as np
import torch

from sdk.evaluation.gs4d import motion_error
from sdk.gs4d.model import barycentric_embedding
from sdk.gs4d import Fit4DConfig, HexPlaneField, canonical_from_mesh, fit_4dgs


def _box():
    v = np.array([[x, y, z] for x in (-.2, .2) for y in (-.2, .2) for z in (-.2, .2)], dtype=float)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],
                  [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return v, f


def test_carry_time_forward_copies_the_field_at_t_to_all_later_times_only():
    torch.manual_seed(0)
    field = HexPlaneField(torch.tensor([[-1.0] * 3, [1.0] * 3]), 4, 6, 3, (1, 2))
    with torch.no_grad():
        for p in field.plane_parameters():
            p.uniform_(0.2, 1.5)  # a time-varying field
    pts = torch.rand(50, 3) * 2 - 1
    before = {t: field(pts, t).clone() for t in (0.0, 0.1, 0.3, 0.35, 0.7, 1.0)}
    field.carry_time_forward(0.2)  # node 1 = t 0.2 exactly (6 nodes at t = 0, .2, ..., 1)
    at = field(pts, 0.2)
    for t in (0.3, 0.35, 0.7, 1.0):  # every later time is now the field at 0.2
        assert torch.allclose(field(pts, t), at, atol=1e-6)
    assert torch.allclose(at, before[0.0] * 0 + field(pts, 0.2))  # t_from itself (a node) is unchanged:
    assert torch.allclose(field(pts, 0.0), before[0.0]) and torch.allclose(field(pts, 0.1), before[0.1])
    assert not torch.allclose(before[0.7], at, atol=1e-3)  # (the field really was time-varying before)


def test_barycentric_embedding_reproduces_the_face_gaussians():
    v, f = _box()
    can = canonical_from_mesh(v, f, 200)
    face, bary = barycentric_embedding(can.means, v, f, len(v))
    assert len(face) == can.n - len(v)
    assert np.allclose(bary.sum(1), 1) and bary.min() > -1e-6
    pts = np.einsum("mb,mbc->mc", bary, v[f[face]])
    assert np.abs(pts - can.means[len(v):]).max() < 1e-5


def test_max_seconds_stops_the_fit_early_and_counts_iterations():
    from sdk.render.views import protocol_cameras, render_sequence_views
    v, f = _box()
    col = np.clip(v + 0.5, 0, 1)
    frames = np.stack([v + [0.1 * k, 0, 0] for k in range(3)])
    video = render_sequence_views(frames, f, protocol_cameras("paper4", 16), times=np.linspace(0, 1, 3),
                                  vertex_colors=col, supersample=1)
    can = canonical_from_mesh(v, f, 60, vertex_colors=col)
    small = dict(refine_iterations=0, progressive_iterations=0, batch=4, spatial_resolution=4, temporal_resolution=2,
                 feature_dim=2, width=8, sh_degree=0, time_basis=1)
    res = fit_4dgs(video, can, Fit4DConfig(iterations=1000, max_seconds=1e-9, **small))
    assert res.iterations_done == 0 and res.summary()["iterations_done"] == 0
    res = fit_4dgs(video, can, Fit4DConfig(iterations=3, **small))
    assert res.iterations_done == 3


def test_motion_error_reports_percentiles_and_zero_for_the_truth():
    class _Field:
        def query(self, x, t):
            return x
    class _Model:  # a stand-in holding a model's interface: trajectories of the true vertices
        means = torch.zeros(1)
        field = _Field()
        def __init__(self, traj):
            self.traj = traj
        def trajectories(self, n, times):
            return torch.as_tensor(self.traj)
    v, _ = _box()
    truth = np.stack([v + [0.1 * k, 0, 0] for k in range(3)])
    m = motion_error(_Model(truth), v, truth, [0, 0.5, 1], diag=1.0)
    assert m["rmse_pct"] < 1e-9 and m["median_pct"] < 1e-9 and m["zero_motion_pct"] > 5
    m = motion_error(_Model(np.stack([v] * 3)), v, truth, [0, 0.5, 1], diag=1.0)
    assert abs(m["rmse_pct"] - m["zero_motion_pct"]) < 1e-9 and m["per_frame_pct"][0] == 0


def test_bound_gaussians_follow_their_triangles():
    from sdk.gs4d.model import Gaussians4D
    v, f = _box()
    can = canonical_from_mesh(v, f, 100)
    model = Gaussians4D(can, sh_degree=0, time_basis=1, spatial_resolution=4, temporal_resolution=2, feature_dim=2,
                        width=8)
    face, bary = barycentric_embedding(can.means, v, f, len(v))
    model.bind_to_mesh(len(v), f, face, bary)
    with torch.no_grad():
        for p in model.field.parameters():
            p.uniform_(-0.5, 0.5)  # a large random deformation
    with torch.no_grad():
        means = model.at_times([0.7])[0][0].numpy()
        single = model.at(0.7)[0].numpy()
    vtx = means[:len(v)]
    assert np.abs(vtx - v).max() > 1e-3  # the vertices moved ...
    assert np.allclose(means[len(v):], np.einsum("mb,mbc->mc", bary, vtx[f[face]]), atol=1e-5)  # ... faces follow
    assert np.allclose(single, means, atol=1e-5)
