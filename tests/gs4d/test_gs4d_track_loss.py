"""The stage-2 track loss (sdk.gs4d.tracks): binding queries to front-most Gaussians, the loss falling to zero when
the centres move onto their tracks, and a tiny fit whose field recovers a known rigid motion with tracks."""
import numpy as np
import torch

from sdk.gs4d import Fit4DConfig, canonical_from_mesh, fit_4dgs
from sdk.gs4d.fit import video_cameras
from sdk.gs4d.tracks import bind_queries, huber, make_targets, track_loss
from sdk.render.camera import project
from sdk.render.views import protocol_cameras, render_sequence_views

from .conftest import checker_box_mesh


def _cams(size=32):
    return protocol_cameras("paper4", size)


def test_bind_queries_takes_the_front_most_centre():
    cams = _cams()
    front = torch.tensor([[0.0, 0.0, 0.1]])
    uv, z = project(front, cams)
    # a second centre behind the first on the same ray, and one off to the side
    eye = torch.linalg.inv(cams.world_to_cam[0])[:3, 3]
    behind = eye + (front[0] - eye) * 1.5
    means = torch.stack([behind, torch.tensor([0.3, 0.3, 0.0]), front[0]])
    q = [uv[0, :1].numpy()]  # the query pixel of view 0: where both centres project
    g = bind_queries(means, cams, q)  # one query list: view 0 only
    assert int(g[0][0]) == 2
    far = [np.array([[0.5, 0.5]])]  # a pixel no centre projects near
    assert int(bind_queries(means, cams, far)[0][0]) == -1


def test_track_loss_is_zero_on_the_tracks_and_falls_when_centres_move_onto_them():
    torch.manual_seed(0)
    cams = _cams(64)
    means0 = torch.rand(50, 3) * 0.4 - 0.2
    shift = torch.tensor([0.08, 0.0, 0.0])
    t_n = 3
    truth = torch.stack([means0 + shift * k for k in range(t_n)])  # [T, N, 3]
    uv = torch.stack([project(truth[k], cams)[0] for k in range(t_n)], 1)  # [C, T, N, 2]
    tracks = [uv[c].numpy() for c in range(len(cams))]
    vis = [np.ones((t_n, 50), bool) for _ in range(len(cams))]
    targets = make_targets(means0, cams, tracks, vis, radius_px=1e-3)
    assert bool((targets.gaussian[targets.visible[:, 0]] >= 0).all())
    views = torch.tensor([0, 1, 2, 3, 0, 1])
    frames = torch.tensor([1, 1, 2, 2, 2, 0])
    from sdk.gs4d.fit import _select
    cam_b = _select(cams, views)
    on = track_loss(truth[frames], cam_b, views, frames, targets)
    static = track_loss(means0[None].expand(len(views), -1, -1), cam_b, views, frames, targets)
    half = track_loss(0.5 * (truth[frames] + means0[None]), cam_b, views, frames, targets)
    assert float(on) < 1e-6 < float(half) < float(static)
    # gradient descent on free centres lowers it
    x = means0[None].repeat(len(views), 1, 1).clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.01)
    first = None
    for _ in range(30):
        loss = track_loss(x, cam_b, views, frames, targets)
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.3 * first
    # occluded points do not count
    targets.visible[:] = False
    assert float(track_loss(means0[None].expand(len(views), -1, -1), cam_b, views, frames, targets)) == 0.0


def test_huber_is_quadratic_then_linear():
    x = torch.tensor([0.0, 1.0, 2.0, 5.0])
    assert torch.allclose(huber(x, 2.0), torch.tensor([0.0, 0.25, 1.0, 4.0]))


def _textured_box(t_n=4, size=32, shift=0.2):
    """A box with a checker of vertex colours (subdivided faces), translating along +x: a known rigid motion."""
    v, f, col = checker_box_mesh()
    frames = np.stack([v + [shift * k / (t_n - 1), 0, 0] for k in range(t_n)])
    video = render_sequence_views(frames, f, _cams(size), times=np.linspace(0, 1, t_n), vertex_colors=col,
                                  supersample=1)
    return video, v, f, col, frames


def test_tiny_fit_with_tracks_and_arap_recovers_a_known_rigid_motion():
    """Tracks pin the visible points, the subsampled ARAP graph carries the rest: a translating box is recovered to
    within 1.5 % of the diagonal from (exact) tracks alone, and with the images on as well the tracks + ARAP fit
    beats the images alone (at 32 px the Gaussians' footprint bleeds over the silhouette, so the images alone pull
    the field off the motion)."""
    from sdk.evaluation.gs4d import motion_error
    from sdk.tracking import gt_tracks
    video, v, f, col, frames = _textured_box()
    can = canonical_from_mesh(v, f, 300, vertex_colors=col)
    small = dict(iterations=60, refine_iterations=0, progressive_iterations=0, batch=16, spatial_resolution=8,
                 temporal_resolution=2, feature_dim=4, width=16, sh_degree=0, time_basis=1, log_every=10,
                 lr_planes=0.05, arap_graph=200, arap_k=6, arap_always=True)
    tr, vi, _ = gt_tracks(frames, f, video_cameras(video), grid=8)
    diag = float(np.linalg.norm(frames.reshape(-1, 3).max(0) - frames.reshape(-1, 3).min(0)))

    def err(**kw):
        res = fit_4dgs(video, can, Fit4DConfig(**{**small, **kw}), canonical_vertices=len(v), tracks=(tr, vi))
        return motion_error(res.model, v, frames, video.times, diag)["rmse_pct"], res

    zero = motion_error(type("M", (), {"trajectories": lambda self, n, t: torch.as_tensor(np.stack([v] * 4)),
                                       "means": torch.zeros(1)})(), v, frames, video.times, diag)["rmse_pct"]
    tracks_only, res = err(lambda_rec=0.0, lambda_track=1.0, lambda_arap=1000.0)
    assert res.history[-1][4] < 0.2 * res.history[0][4]  # the track term itself fell
    assert tracks_only < 1.5 < zero
    images_only, _ = err(lambda_track=0.0, lambda_arap=0.0)
    both, _ = err(lambda_track=1.0, lambda_arap=1000.0)
    assert both < 0.6 * zero and both < 0.8 * images_only


def test_mesh_from_gaussians_reads_the_embedding_backwards():
    from sdk.gs4d.export import mesh_from_gaussians
    from sdk.gs4d.model import barycentric_embedding
    video, v, f, col, frames = _textured_box(t_n=3, size=16)
    can = canonical_from_mesh(v, f, 400, vertex_colors=col)
    face, bary = barycentric_embedding(can.means, v, f, len(v))
    rng = np.random.default_rng(0)
    moved = frames + rng.normal(0, 0.01, frames.shape)  # a non-rigid motion of the vertices
    pts = np.stack([np.concatenate([m, np.einsum("mb,mbc->mc", bary, m[f[face]])]) for m in moved])
    assert np.abs(mesh_from_gaussians(pts, len(v), f, face, bary) - moved).max() < 1e-4
    # vertex Gaussians thrown far away with ~zero weight: the face Gaussians still give the mesh back
    bad = pts.copy()
    bad[:, :len(v)] += 0.3
    w = np.ones(pts.shape[1])
    w[:len(v)] = 1e-6
    assert np.abs(mesh_from_gaussians(bad, len(v), f, face, bary, w) - moved).max() < 1e-3


def test_presets_name_real_config_fields():
    from dataclasses import fields
    from sdk.gs4d import PAPER_SCHEDULE, TRACKING_GUIDED
    names = {f.name for f in fields(Fit4DConfig)}
    assert set(TRACKING_GUIDED) <= names and set(PAPER_SCHEDULE) <= names
    cfg = Fit4DConfig(**TRACKING_GUIDED)
    assert cfg.lambda_track > 0 and cfg.arap_always and cfg.arap_graph > 0
    assert Fit4DConfig().lambda_track == 0.0  # the default fit is the image-only one (docs/gaussians.md 3.6)
