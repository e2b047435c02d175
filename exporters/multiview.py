"""Writer of multi-view video folders: ``<view>/<frame:04d>.png`` (RGBA: rgb composited on the background,
alpha = mask) per view + ``cameras.json`` (+ ``gt.npz`` with ground-truth vertices when given).

``cameras.json``::

    {"format": "articulate-multiview/1", "convention": "opengl", "width": W, "height": H, "fps": f,
     "background": 0.5, "times": [T], "views": [{"name": ..., "world_to_cam": 4x4 row-major, "focal": px}],
     "meta": {...}}
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sdk.core.multiview import MultiViewVideo
from sdk.util.atomic import atomic_path, atomic_write_text

FORMAT = "articulate-multiview/1"


def write_multiview(video: MultiViewVideo, folder, gt: dict | None = None) -> Path:
    from PIL import Image
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(video.view_names):
        (folder / name).mkdir(exist_ok=True)
        for k in range(video.n_frames):
            rgba = np.concatenate([video.frames[i, k], video.masks[i, k][..., None]], -1)
            with atomic_path(folder / name / f"{k:04d}.png") as tmp:
                Image.fromarray(np.round(np.clip(rgba, 0, 1) * 255).astype(np.uint8), "RGBA").save(tmp, format="PNG")
    doc = {"format": FORMAT, "convention": "opengl", "width": video.width, "height": video.height,
           "fps": float(video.fps), "background": float(video.background), "times": video.times.tolist(),
           "name": video.name, "source": video.source,
           "views": [{"name": n, "world_to_cam": video.world_to_cam[i].tolist(), "focal": float(video.focal[i])}
                     for i, n in enumerate(video.view_names)],
           "meta": video.meta}
    if gt is not None:
        with atomic_path(folder / "gt.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **{k: np.asarray(v) for k, v in gt.items() if v is not None})
    atomic_write_text(folder / "cameras.json", json.dumps(doc, indent=1))
    return folder
