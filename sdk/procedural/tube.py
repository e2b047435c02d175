"""A parted tube of any size: the stress mesh of the server's deadline, cancel and load tests and benchmarks."""
from __future__ import annotations

import numpy as np

from ..core import Mesh, PartLabels


def parted_tube(rings: int = 400, segs: int = 250, n_parts: int = 4) -> tuple[Mesh, PartLabels]:
    """A wavy tube along x (length 4) with ``rings * segs`` vertices split into ``n_parts`` equal parts along x."""
    xs = np.linspace(0, 4.0, rings)
    th = np.linspace(0, 2 * np.pi, segs, endpoint=False)
    r = (0.3 + 0.05 * np.sin(xs * 3))[:, None]
    v = np.stack([np.repeat(xs[:, None], segs, 1), r * np.cos(th), r * np.sin(th)], -1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(rings - 1), np.arange(segs), indexing="ij")
    a, b = i * segs + j, i * segs + (j + 1) % segs
    f = np.concatenate([np.stack([a, a + segs, b], -1).reshape(-1, 3),
                        np.stack([b, a + segs, b + segs], -1).reshape(-1, 3)])
    lab = np.minimum((v[:, 0] / 4.0 * n_parts).astype(int), n_parts - 1)
    return Mesh(v, f, name="tube"), PartLabels(lab, [f"p{k}" for k in range(n_parts)])
