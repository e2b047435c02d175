"""A weight-free tracker: OpenCV pyramidal Lucas-Kanade, chained frame to frame, with a forward-backward check.

A point is predicted occluded at a frame when its backward track misses its previous position by more than
``fb_threshold`` px or LK reports failure; it keeps being tracked from its predicted position.
"""
from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError, MissingDependencyError


def klt_tracks(video: np.ndarray, queries: np.ndarray, *, win: int = 15, levels: int = 3,
               fb_threshold: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """video: [T, H, W, 3] float in [0, 1] (or uint8); queries: [N, 2] pixel positions on frame 0 (centres +0.5)
    -> tracks [T, N, 2], visible [T, N] bool."""
    try:
        import cv2
    except ImportError as e:  # pragma: no cover
        raise MissingDependencyError("opencv-python-headless", "the Lucas-Kanade tracker") from e
    v = np.asarray(video)
    if v.ndim != 4 or v.shape[-1] != 3 or len(v) < 2:
        raise InvalidInputError(f"video must be [T >= 2, H, W, 3], got {v.shape}", field="video")
    q = np.asarray(queries, dtype=np.float32).reshape(-1, 2)
    if not np.isfinite(q).all():
        raise InvalidInputError("queries must be finite", field="queries")
    gray = [cv2.cvtColor((np.clip(f, 0, 1) * 255).astype(np.uint8) if v.dtype != np.uint8 else f,
                         cv2.COLOR_RGB2GRAY) for f in v]
    params = dict(winSize=(win, win), maxLevel=levels,
                  criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
    t_n, n = len(v), len(q)
    tracks = np.zeros((t_n, n, 2), np.float64)
    vis = np.zeros((t_n, n), bool)
    tracks[0], vis[0] = q, True
    # OpenCV's pixel (0, 0) is the centre of the first pixel: shift by -0.5 in, +0.5 out
    cur = (q - 0.5).reshape(-1, 1, 2)
    for t in range(1, t_n):
        nxt, st, _ = cv2.calcOpticalFlowPyrLK(gray[t - 1], gray[t], cur, None, **params)
        back, st_b, _ = cv2.calcOpticalFlowPyrLK(gray[t], gray[t - 1], nxt, None, **params)
        fb = np.linalg.norm((back - cur).reshape(-1, 2), axis=1)
        good = (st.ravel() == 1) & (st_b.ravel() == 1) & (fb < fb_threshold)
        nxt = np.where(st.reshape(-1, 1, 1) == 1, nxt, cur)
        tracks[t] = nxt.reshape(-1, 2) + 0.5
        vis[t] = good
        cur = nxt.astype(np.float32)
    return tracks, vis
