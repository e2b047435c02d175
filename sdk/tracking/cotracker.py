"""Optional CoTracker3 (facebookresearch/co-tracker; code and weights CC-BY-NC 4.0: user-installed, never vendored).

``cotracker_tracks(video, queries)`` uses ``cotracker.predictor.CoTrackerPredictor`` with the user's
``<ARTICULATE_WEIGHTS_DIR>/scaled_offline.pth`` (registry entry ``cotracker3``); when either is missing it raises one clear error, and
``best_tracks`` falls back to the Lucas-Kanade tracker.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MissingDependencyError, MissingWeightsError

WEIGHTS_FILE = "scaled_offline.pth"


def _weights_dir() -> Path:
    from ..config import settings
    return Path(settings.weights_dir)


def cotracker_tracks(video: np.ndarray, queries: np.ndarray, checkpoint: str | None = None, device="cpu"):
    """video [T, H, W, 3] in [0, 1]; queries [N, 2] px on frame 0 -> (tracks [T, N, 2], visible [T, N])"""
    try:
        import torch
        from cotracker.predictor import CoTrackerPredictor
    except ImportError as e:
        raise MissingDependencyError("cotracker", "CoTracker3 tracking (CC-BY-NC; install it yourself from "
                                     "facebookresearch/co-tracker)", "pip install git+https://github.com/"
                                     "facebookresearch/co-tracker") from e
    ckpt = Path(checkpoint) if checkpoint else _weights_dir() / WEIGHTS_FILE
    if not ckpt.exists():
        raise MissingWeightsError("cotracker3", WEIGHTS_FILE, str(ckpt.parent))
    model = CoTrackerPredictor(checkpoint=str(ckpt), offline=True, window_len=60).to(device)
    v = torch.as_tensor(np.asarray(video), dtype=torch.float32).permute(0, 3, 1, 2)[None].to(device) * 255.0
    q = torch.as_tensor(np.asarray(queries), dtype=torch.float32)
    # CoTracker's pixel coordinates have (0, 0) at the first pixel's centre
    qq = torch.cat([torch.zeros(len(q), 1), q - 0.5], 1)[None].to(device)
    tracks, vis = model(v, queries=qq)
    return tracks[0].cpu().numpy() + 0.5, vis[0].cpu().numpy().astype(bool)


def best_tracks(video: np.ndarray, queries: np.ndarray, device="cpu"):
    """CoTracker3 when installed with its weights, else the weight-free Lucas-Kanade tracker -> (tracks, visible,
    name of the tracker used)."""
    try:
        t, v = cotracker_tracks(video, queries, device=device)
        return t, v, "cotracker3"
    except (MissingDependencyError, MissingWeightsError):
        from .klt import klt_tracks
        t, v = klt_tracks(video, queries)
        return t, v, "klt"
