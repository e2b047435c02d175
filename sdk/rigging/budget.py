"""Engine budgets: top-k influences, 8/16-bit quantization with exact unit sums, maximum bone count."""
from __future__ import annotations

import numpy as np

from ..core import SkinWeights
from ..errors import InvalidInputError


#: the one bound on influences per vertex, everywhere (facade, CLI, server, rig from motion); engines use 4 or 8
MAX_INFLUENCES = 16


def check_budget(max_influences: int, max_bones: int | None, quantize_bits: int | None) -> None:
    """The engine budget, validated once where a config is built (RigConfig, rig_from_motion, the server plans)."""
    if isinstance(max_influences, bool) or not isinstance(max_influences, (int, np.integer)) \
            or not 1 <= int(max_influences) <= MAX_INFLUENCES:
        raise InvalidInputError(f"max_influences must be an integer in [1, {MAX_INFLUENCES}] (engines use 4 or 8), "
                                f"got {max_influences!r}", field="max_influences")
    if max_bones is not None and (not isinstance(max_bones, (int, np.integer)) or int(max_bones) < 1):
        raise InvalidInputError(f"max_bones must be a positive integer, got {max_bones!r}", field="max_bones")
    if quantize_bits not in (None, 8, 16):
        raise InvalidInputError(f"quantize_bits must be None, 8 or 16, got {quantize_bits!r}", field="quantize_bits")


def merge_parts(labels: np.ndarray, names: list[str], contact: np.ndarray, max_bones: int,
                size: np.ndarray | None = None, centroids: np.ndarray | None = None):
    """Merge parts until at most ``max_bones`` remain.

    labels: [V] in [0, P); contact: [P, P] symmetric contact strength (e.g. cut-edge length);
    size: [P] (area or vertex count) decides who is absorbed: repeatedly the smallest part merges
    into the neighbour it shares the most contact with (nearest centroid if it touches none).
    Returns (labels [V] in [0, P'), names [P'], old_to_new [P]).
    """
    lab = np.asarray(labels, dtype=np.int64)
    P = len(names)
    if P <= max_bones:
        return lab, list(names), np.arange(P)
    C = np.array(contact, dtype=np.float64)
    np.fill_diagonal(C, 0.0)
    sz = np.bincount(lab[lab >= 0], minlength=P).astype(np.float64) if size is None else np.array(size, dtype=np.float64)
    cen = None if centroids is None else np.array(centroids, dtype=np.float64)
    alive = np.ones(P, dtype=bool)
    target = np.arange(P)
    for _ in range(P - max_bones):
        cand = np.flatnonzero(alive)
        s = cand[np.argmin(sz[cand])]
        row = np.where(alive, C[s], 0.0)
        row[s] = 0.0
        if row.max() > 0:
            t = int(np.argmax(row))
        else:
            others = cand[cand != s]
            if cen is not None:
                t = int(others[np.argmin(np.linalg.norm(cen[others] - cen[s], axis=1))])
            else:
                t = int(others[np.argmax(sz[others])])
        C[t] += C[s]
        C[:, t] += C[:, s]
        C[t, t] = 0.0
        C[s] = 0.0
        C[:, s] = 0.0
        if cen is not None:
            cen[t] = (cen[t] * sz[t] + cen[s] * sz[s]) / max(sz[t] + sz[s], 1e-300)
        sz[t] += sz[s]
        alive[s] = False
        target[target == s] = t
    keep = np.flatnonzero(alive)
    remap = np.full(P, -1)
    remap[keep] = np.arange(len(keep))
    old_to_new = remap[target]
    new_lab = np.where(lab >= 0, old_to_new[np.maximum(lab, 0)], -1)
    return new_lab, [names[k] for k in keep], old_to_new


def limit_weights(w: np.ndarray, max_influences: int = 4, quantize_bits: int | None = None) -> SkinWeights:
    """Dense weights [V, J] -> SkinWeights with top-k influences renormalized, optionally quantized."""
    skin = SkinWeights.from_dense(w, int(max_influences))
    if quantize_bits is not None:
        skin = skin.quantize(int(quantize_bits))
    return skin
