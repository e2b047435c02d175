"""Tracking losses (Eqs. 4-5), pixel<->feature mapping, TAP-Vid metrics, GT tracks and the Lucas-Kanade tracker."""
import numpy as np
import pytest
import torch

from sdk.errors import InvalidInputError
from sdk.tracking import (FeatureHook, corr_loss, gt_tracks, klt_tracks, pos_loss, query_grid, sample_features,
                          sample_track_batch, soft_argmax_positions, tapvid_metrics)


def _moving_features(v=2, t=4, c=6, h=8, w=8, size=64, seed=0):
    """Random features that translate by one cell per frame in x; tracks follow the same translation."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(v, c, h, w + t, generator=g)
    feats = torch.stack([base[:, :, :, t - k: t - k + w] for k in range(t)], 1)  # content moves +1 cell / frame
    cell = size / w
    q = (torch.tensor([[2.0, 3.0], [4.0, 5.0], [1.0, 6.0]]) + 0.5) * cell  # cell centres, in px
    tracks = torch.stack([q + torch.tensor([k * cell, 0.0]) for k in range(t)])[None].expand(v, t, 3, 2).clone()
    vis = torch.ones(v, t, 3, dtype=torch.bool)
    return feats, tracks, vis, size


def test_corr_loss_is_zero_along_true_tracks_and_positive_off_them():
    feats, tracks, vis, size = _moving_features()
    assert float(corr_loss(feats, tracks, vis, size, size)) < 1e-6
    still = tracks[:, :1].expand_as(tracks)
    assert float(corr_loss(feats, still, vis, size, size)) > 0.1


def test_occluded_points_are_masked():
    feats, tracks, vis, size = _moving_features()
    vis[:, 2, 1] = False
    bad = tracks.clone()
    bad[:, 2, 1] += 17.0  # garbage where occluded
    assert float(corr_loss(feats, bad, vis, size, size)) < 1e-6
    assert float(pos_loss(feats, bad, vis, size, size)) == pytest.approx(float(pos_loss(feats, tracks, vis, size,
                                                                                          size)), abs=1e-6)


def test_soft_argmax_recovers_a_single_peak():
    h = w = 8
    fmap = torch.zeros(1, 2, h, w)
    fmap[0, 1] = 1.0  # cosine 0 with the query everywhere but the peak
    fmap[0, 0, 5, 2] = 50.0  # peak at cell (x=2, y=5): cosine ~1
    p = soft_argmax_positions(fmap, torch.tensor([[[1.0, 0.0]]]), tau=0.01)
    assert torch.allclose(p[0, 0], torch.tensor([2.0, 5.0]), atol=0.05)


def test_pixel_to_feature_mapping():
    h, w, size = 4, 8, 64
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    fmap = torch.stack([xs * size / w, ys * size / h])[None]  # each cell holds its centre's pixel coordinates
    pts = torch.tensor([[[4.0, 8.0], [20.0, 20.0], [59.5, 55.0]]])
    assert torch.allclose(sample_features(fmap, pts, size, size)[0], pts[0], atol=1e-4)


def test_pos_loss_zero_on_truth_and_gradients_reach_the_hooked_module():
    feats, tracks, vis, size = _moving_features(c=16)
    feats = feats * 20  # sharp cosine maps
    base = float(pos_loss(feats, tracks, vis, size, size))
    off = tracks.clone()
    off[:, 1:] += 8.0  # one cell off
    assert base < 0.05 and float(pos_loss(feats, off, vis, size, size)) > base + 0.3
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1))
    hook = FeatureHook.find(net, "2")
    x = torch.randn(2 * 4, 3, 8, 8)
    net(x)
    f = hook.output.reshape(2, 4, 8, 8, 8)
    loss = 1.0 * 0 + 0.1 * corr_loss(f, tracks, vis, size, size) + 10 * pos_loss(f, tracks, vis, size, size)
    loss.backward()
    assert net[2].weight.grad is not None and float(net[2].weight.grad.abs().sum()) > 0
    assert net[0].weight.grad is not None
    hook.remove()
    with pytest.raises(InvalidInputError, match="no module named"):
        FeatureHook.find(net, "up_blocks.1")


def test_query_grid_and_track_batch():
    mask = np.zeros((60, 60))
    mask[10:40, 20:50] = 1
    mask[10:25, 20:35] = 0  # an L shape: the grid spans its box, points in the notch are dropped
    q = query_grid(mask, 15)
    assert len(q) == 15 * 15 - 8 * 8 or len(q) == 15 * 15 - 7 * 7 or 150 < len(q) < 225
    assert (q[:, 0] >= 20).all() and (q[:, 0] < 50).all() and (q[:, 1] >= 10).all() and (q[:, 1] < 40).all()
    assert not ((q[:, 0] < 35) & (q[:, 1] < 25)).any()
    with pytest.raises(InvalidInputError, match="empty"):
        query_grid(np.zeros((8, 8)))
    tracks = torch.rand(3, 5, 40, 2) * 60
    vis = torch.ones(3, 5, 40, dtype=torch.bool)
    vis[1, 0, :35] = False
    t, v = sample_track_batch(tracks, vis, 8, torch.Generator().manual_seed(0))
    assert t.shape == (3, 5, 8, 2) and bool(v[1, 0].all())  # only frame-0-visible queries are drawn
    vis[2, 0] = False
    with pytest.raises(InvalidInputError, match="view 2"):
        sample_track_batch(tracks, vis, 8)


def test_tapvid_metrics():
    g = np.random.default_rng(0)
    gt = g.random((5, 20, 2)) * 100
    vis = g.random((5, 20)) > 0.2
    m = tapvid_metrics(gt, vis, gt, vis)
    assert m["delta_avg"] == 1 and m["occlusion_accuracy"] == 1 and m["aj"] == 1
    shifted = gt + [3.0, 0.0]  # 3 px off: within 4, 8, 16 only
    m = tapvid_metrics(shifted, vis, gt, vis)
    assert m["delta_avg"] == pytest.approx(3 / 5) and m["aj"] == pytest.approx(3 / 5)
    m = tapvid_metrics(gt, ~vis, gt, vis)
    assert m["occlusion_accuracy"] == pytest.approx(0.0) and m["aj"] == 0


def test_gt_tracks_and_klt_on_a_rendered_asset(shared_data):
    from sdk.io.gltf import load_gltf
    from sdk.render.views import protocol_cameras, render_asset_views
    a = load_gltf(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb")
    video, gt = render_asset_views(a, None, protocol="paper4", n_frames=5, size=96, supersample=1)
    cams = protocol_cameras("paper4", 96)
    tracks, vis, qs = gt_tracks(gt["vertices"], gt["faces"], cams)
    assert all(len(q) > 10 for q in qs)
    assert all(v[0].all() for v in vis)  # queries are visible on the query frame
    assert 0.2 < np.mean([v.mean() for v in vis]) <= 1.0
    # the side views see the far leg occluded part of the time
    pt, pv = klt_tracks(video.frames[1], qs[1])
    m = tapvid_metrics(pt, pv, tracks[1], vis[1])
    assert m["delta_avg"] > 0.3 and 0 <= m["aj"] <= 1
    with pytest.raises(InvalidInputError, match="video"):
        klt_tracks(video.frames[1][:1], qs[1])


def test_cotracker_is_optional_and_falls_back(tmp_path, monkeypatch):
    from sdk.errors import MissingDependencyError, MissingWeightsError
    from sdk.tracking.cotracker import best_tracks, cotracker_tracks
    video = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    q = np.array([[10.0, 12.0], [20.0, 8.0]])
    with pytest.raises((MissingDependencyError, MissingWeightsError)):
        cotracker_tracks(video, q, checkpoint=str(tmp_path / "none.pth"))
    t, v, name = best_tracks(video, q)
    assert name == "klt" and t.shape == (3, 2, 2) and v.shape == (3, 2)
    from sdk.models.registry import get_model
    assert get_model("cotracker3").files[0].filename == "scaled_offline.pth"
