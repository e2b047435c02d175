"""Point tracking for Track4DGen stage 1 (Sec. 3.2): exact ground-truth tracks from animated assets, a weight-free
OpenCV pyramidal Lucas-Kanade tracker, TAP-Vid metrics, the tracking losses of Eqs. 4-5, and an optional CoTracker3
loader (user-installed; CC-BY-NC code and weights, never vendored).

Layout everywhere (CoTracker's): ``tracks [..., T, N, 2]`` in pixels (x right, y down, pixel centres at +0.5),
``visible [..., T, N]`` bool.
"""
from .gt import gt_tracks, query_grid
from .klt import klt_tracks
from .losses import (FeatureHook, cells_to_px, corr_loss, feature_tracks, pos_loss, px_to_cells, sample_features,
                     sample_track_batch, soft_argmax_positions)
from .metrics import tapvid_metrics

__all__ = ["gt_tracks", "query_grid", "klt_tracks", "FeatureHook", "cells_to_px", "corr_loss", "feature_tracks",
           "px_to_cells", "pos_loss", "sample_features", "sample_track_batch", "soft_argmax_positions",
           "tapvid_metrics"]
