"""Spatial colour encoding of kinematic parts (SP4D §3.2) and its inverse.

A part's colour is the centre of that part in the first frame, in coordinates normalised to the unit
cube (per axis, over the whole object in frame 0). The same part keeps its colour in every view and
frame, so part maps become RGB-like images the shared VAE can encode. Colours are mapped into
``[lo, hi]`` (default [0.05, 0.85]) to keep them away from the white background.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

BACKGROUND = 1.0


def part_colors(vertices0, vertex_part, num_parts: int | None = None, lo: float = 0.05,
                hi: float = 0.85) -> np.ndarray:
    """Colour code of every part.

    vertices0: [V, 3] first-frame vertex positions; vertex_part: [V] part id per vertex (>= 0)
    returns [K, 3] in [lo, hi]; a part without vertices gets the cube centre.
    """
    v = np.asarray(vertices0, dtype=np.float64)
    p = np.asarray(vertex_part, dtype=np.int64)
    k = int(p.max()) + 1 if num_parts is None else int(num_parts)
    mn, mx = v.min(0), v.max(0)
    unit = (v - mn) / np.maximum(mx - mn, 1e-9)
    sums = np.zeros((k, 3))
    np.add.at(sums, p, unit)
    cnt = np.bincount(p, minlength=k)[:k]
    centre = np.where(cnt[:, None] > 0, sums / np.maximum(cnt, 1)[:, None], 0.5)
    return lo + (hi - lo) * centre


def encode(labels, colors, background: float = BACKGROUND) -> Tensor:
    """Part-id maps -> colour images.

    labels: [..., H, W] int (-1 background); colors: [K, 3]
    returns [..., H, W, 3] float32
    """
    lab = torch.as_tensor(labels)
    col = torch.as_tensor(np.asarray(colors), dtype=torch.float32, device=lab.device)
    out = col[lab.clamp_min(0).long()]
    return torch.where((lab >= 0)[..., None], out, torch.full_like(out, background))


def decode(images, colors, background: float = BACKGROUND, bg_margin: float = 0.5) -> Tensor:
    """Colour images -> part ids by nearest palette colour (the inverse of ``encode`` when the palette is known).

    images: [..., H, W, 3]; colors: [K, 3]
    A pixel is background (-1) when it is closer to the background colour than ``bg_margin`` times
    its distance to the nearest part colour.
    returns [..., H, W] int64
    """
    img = torch.as_tensor(images, dtype=torch.float32)
    col = torch.as_tensor(np.asarray(colors), dtype=torch.float32, device=img.device)
    d = torch.cdist(img.reshape(-1, 3), col)                               # [P, K]
    dmin, lab = d.min(dim=1)
    dbg = (img.reshape(-1, 3) - background).norm(dim=1)
    lab = torch.where(dbg * 1.0 < dmin * bg_margin, torch.full_like(lab, -1), lab)
    return lab.reshape(img.shape[:-1])
