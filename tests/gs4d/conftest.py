"""Shared test scenes of tests/gs4d."""
import numpy as np


def checker_box_mesh():
    """A subdivided 0.4-m box (4x4 quads per side) with a checker of vertex colours; the box's edges are UV-style
    seams (each corner/edge position appears 2-3 times). Returns vertices [V, 3], faces [F, 3], colours [V, 3]."""
    g = np.linspace(-0.2, 0.2, 5)
    vs, fs = [], []
    for axis in range(3):
        for sgn in (-1.0, 1.0):
            a, b = [i for i in range(3) if i != axis]
            base = len(vs)
            for i in range(5):
                for j in range(5):
                    p = np.zeros(3)
                    p[axis], p[a], p[b] = 0.2 * sgn, g[i], g[j]
                    vs.append(p)
            for i in range(4):
                for j in range(4):
                    q = base + i * 5 + j
                    tri = [[q, q + 5, q + 6], [q, q + 6, q + 1]]
                    fs += [t[::-1] if sgn > 0 else t for t in tri]
    v, f = np.array(vs), np.array(fs)
    col = np.where(((np.floor((v[:, 0] + v[:, 1] + v[:, 2]) * 10)) % 2 == 0)[:, None], [0.9, 0.2, 0.1], [0.1, 0.3, 0.9])
    return v, f, col
