"""Where the Eq. 4-5 losses can fail: perfect features vs shuffled ones, occlusion, and tracks read off features."""
import torch

from sdk.tracking import cells_to_px, corr_loss, feature_tracks, pos_loss, px_to_cells, tapvid_metrics


def _moving(v=2, t=5, c=16, h=8, w=8, size=64, seed=0):
    """Distinct random features that translate by one cell per frame in x; GT tracks follow them."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(v, c, h, w + t, generator=g) * 20
    feats = torch.stack([base[:, :, :, t - k: t - k + w] for k in range(t)], 1)
    cell = size / w
    q = (torch.tensor([[1.0, 2.0], [2.0, 5.0], [0.0, 6.0], [3.0, 1.0]]) + 0.5) * cell
    tracks = torch.stack([q + torch.tensor([k * cell, 0.0]) for k in range(t)])[None].expand(v, t, 4, 2).clone()
    return feats, tracks, torch.ones(v, t, 4, dtype=torch.bool), size


def test_perfect_features_give_near_zero_losses_and_shuffled_ones_more():
    feats, tracks, vis, size = _moving()
    perfect_c, perfect_p = float(corr_loss(feats, tracks, vis, size, size)), float(pos_loss(feats, tracks, vis, size,
                                                                                             size))
    assert perfect_c < 1e-6 and perfect_p < 1e-3
    g = torch.Generator().manual_seed(1)
    v, t, c, h, w = feats.shape
    shuffled = torch.stack([feats[:, k].reshape(v, c, h * w)[:, :, torch.randperm(h * w, generator=g)]
                            .reshape(v, c, h, w) if k else feats[:, k] for k in range(t)], 1)  # frame 0 kept
    assert float(corr_loss(shuffled, tracks, vis, size, size)) > 0.3
    assert float(pos_loss(shuffled, tracks, vis, size, size)) > 100 * max(perfect_p, 1e-3)


def test_occluded_points_cannot_raise_the_losses():
    feats, tracks, vis, size = _moving()
    bad = tracks.clone()
    bad[:, 3:, 2] = torch.tensor([5.0, 60.0])   # a wrong position ...
    hidden = vis.clone()
    hidden[:, 3:, 2] = False                     # ... where the point is occluded
    assert float(corr_loss(feats, bad, hidden, size, size)) < 1e-6
    assert float(pos_loss(feats, bad, hidden, size, size)) < 1e-3
    assert float(pos_loss(feats, bad, vis, size, size)) > 0.1  # the same error, visible, is penalised


def test_feature_tracks_recover_the_true_tracks_and_pixel_cell_maps_invert():
    feats, tracks, vis, size = _moving()
    pred = feature_tracks(feats, tracks[:, 0], size, size)
    assert torch.allclose(pred, tracks, atol=0.1)
    m = tapvid_metrics(pred[0].numpy(), vis[0].numpy(), tracks[0].numpy(), vis[0].numpy())
    assert m["delta_avg"] == 1.0
    p = torch.rand(3, 7, 2) * 64
    assert torch.allclose(cells_to_px(px_to_cells(p, 8, 4, 64, 48), 8, 4, 64, 48), p, atol=1e-5)
