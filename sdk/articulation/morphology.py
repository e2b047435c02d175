"""Binary morphology on voxel grids with the 6-neighbour cross (scipy.ndimage's default 3D structure).

Fast paths of ``scipy.ndimage.binary_dilation`` / ``binary_erosion`` / ``binary_fill_holes`` as used by the
collision scene (one iteration, default structure, border value 0): array shifts instead of the generic
structuring-element loop, and hole filling by one connected-component labelling of the background instead of
an iterated dilation. Each equals its ``*_reference`` (scipy) exactly; ``tests/articulation/test_fast_paths.py``
checks that.
"""
from __future__ import annotations

import numpy as np


def _shifted(x: np.ndarray, op) -> np.ndarray:  # x [X, Y, Z] bool: op-combine x with its 6 face neighbours
    out = x.copy()
    fill = op is np.logical_and  # erosion: outside the grid is background, so border voxels lose their neighbour
    for ax in range(x.ndim):
        n = x.shape[ax]
        lo = [slice(None)] * x.ndim
        hi = [slice(None)] * x.ndim
        if n == 1:
            if fill:
                out[...] = False
            continue
        lo[ax], hi[ax] = slice(0, n - 1), slice(1, n)
        lo, hi = tuple(lo), tuple(hi)
        op(out[lo], x[hi], out=out[lo])  # neighbour at +1
        op(out[hi], x[lo], out=out[hi])  # neighbour at -1
        if fill:
            first = [slice(None)] * x.ndim
            last = [slice(None)] * x.ndim
            first[ax], last[ax] = 0, n - 1
            out[tuple(first)] = False
            out[tuple(last)] = False
    return out


def dilate6(x: np.ndarray) -> np.ndarray:  # x [X, Y, Z] bool -> bool
    return _shifted(np.asarray(x, bool), np.logical_or)


def erode6(x: np.ndarray) -> np.ndarray:  # x [X, Y, Z] bool -> bool
    return _shifted(np.asarray(x, bool), np.logical_and)


def fill_holes6(x: np.ndarray) -> np.ndarray:  # x [X, Y, Z] bool -> bool
    """Background voxels not connected (6-neighbours) to the grid's border become foreground."""
    from scipy.ndimage import label
    x = np.asarray(x, bool)
    lab, n = label(~x)
    if n == 0:
        return x.copy()
    border = np.zeros(n + 1, bool)
    for ax in range(x.ndim):
        border[np.take(lab, 0, axis=ax).ravel()] = True
        border[np.take(lab, -1, axis=ax).ravel()] = True
    border[0] = True  # label 0 is the foreground itself
    return x | ~border[lab]


def dilate6_reference(x):
    from scipy.ndimage import binary_dilation
    return binary_dilation(x)


def erode6_reference(x):
    from scipy.ndimage import binary_erosion
    return binary_erosion(x)


def fill_holes6_reference(x):
    from scipy.ndimage import binary_fill_holes
    return binary_fill_holes(x)
