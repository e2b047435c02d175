"""Closest points on triangles: one vectorised kernel for every caller (registration, Gaussian skin transfer)."""
from __future__ import annotations

import numpy as np


def closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray):
    """Closest point on triangles (a, b, c) to p, all [N, 3] (Ericson, Real-Time Collision Detection 5.1.5)
    -> (point [N, 3], barycentrics [N, 3])."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = (ab * ap).sum(1), (ac * ap).sum(1)
    bp = p - b
    d3, d4 = (ab * bp).sum(1), (ac * bp).sum(1)
    cp = p - c
    d5, d6 = (ab * cp).sum(1), (ac * cp).sum(1)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    n = len(p)
    bary = np.zeros((n, 3))
    done = np.zeros(n, bool)

    def put(mask, w):
        m = mask & ~done
        bary[m] = w[m] if w.ndim == 2 else w
        done[m] = True

    eps = 1e-30
    put((d1 <= 0) & (d2 <= 0), np.array([1.0, 0, 0]))
    put((d3 >= 0) & (d4 <= d3), np.array([0, 1.0, 0]))
    put((d6 >= 0) & (d5 <= d6), np.array([0, 0, 1.0]))
    t = d1 / np.where(np.abs(d1 - d3) > eps, d1 - d3, eps)
    put((vc <= 0) & (d1 >= 0) & (d3 <= 0), np.stack([1 - t, t, np.zeros(n)], 1))
    t = d2 / np.where(np.abs(d2 - d6) > eps, d2 - d6, eps)
    put((vb <= 0) & (d2 >= 0) & (d6 <= 0), np.stack([1 - t, np.zeros(n), t], 1))
    den = (d4 - d3) + (d5 - d6)
    t = (d4 - d3) / np.where(np.abs(den) > eps, den, eps)
    put((va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0), np.stack([np.zeros(n), 1 - t, t], 1))
    s = va + vb + vc
    s = np.where(np.abs(s) > eps, s, eps)
    w1, w2 = vb / s, vc / s
    put(np.ones(n, bool), np.stack([1 - w1 - w2, w1, w2], 1))
    pt = a * bary[:, :1] + b * bary[:, 1:2] + c * bary[:, 2:]
    return pt, bary
