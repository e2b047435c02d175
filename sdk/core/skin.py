"""Sparse skinning weights with k influences per vertex, and engine budgets."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError


@dataclass
class SkinWeights:
    indices: np.ndarray  # [V, k] int64 joint ids (padding uses 0 with weight 0)
    weights: np.ndarray  # [V, k] float32, rows sum to 1, sorted descending

    def __post_init__(self):
        self.indices = np.asarray(self.indices, dtype=np.int64)
        self.weights = np.asarray(self.weights, dtype=np.float32)
        if self.indices.ndim == 1:
            self.indices, self.weights = self.indices[:, None], self.weights[:, None]

    @property
    def n_vertices(self) -> int:
        return len(self.indices)

    @property
    def max_influences(self) -> int:
        return self.indices.shape[1]

    @staticmethod
    def from_dense(w: np.ndarray, k: int = 4, *, prune: float = 0.0) -> "SkinWeights":
        """Keep the top-k weights per vertex [V, J] and renormalize to unit sum."""
        w = np.asarray(w, dtype=np.float64)
        V, J = w.shape
        k = min(k, J)
        w = np.where(w < prune, 0.0, np.clip(w, 0.0, None))
        idx = np.argpartition(-w, k - 1, axis=1)[:, :k] if k < J else np.tile(np.arange(J), (V, 1))
        val = np.take_along_axis(w, idx, axis=1)
        order = np.argsort(-val, axis=1, kind="stable")
        idx, val = np.take_along_axis(idx, order, 1), np.take_along_axis(val, order, 1)
        s = val.sum(1, keepdims=True)
        zero = s[:, 0] <= 0
        if zero.any():  # vertex with no weight at all: bind to its best (argmax) joint
            val[zero] = 0.0
            val[zero, 0] = 1.0
            idx[zero, 0] = np.asarray(w[zero].argmax(1))
            s = val.sum(1, keepdims=True)
        val = val / s
        idx = np.where(val > 0, idx, 0)
        return SkinWeights(idx, val.astype(np.float32))

    def to_dense(self, n_joints: int) -> np.ndarray:  # [V, J] float64
        d = np.zeros((self.n_vertices, n_joints))
        np.add.at(d, (np.repeat(np.arange(self.n_vertices), self.max_influences), self.indices.ravel()),
                  self.weights.ravel().astype(np.float64))
        return d

    def validate(self, n_vertices: int, n_joints: int) -> "SkinWeights":
        if self.n_vertices != n_vertices:
            raise InvalidInputError(f"skin has {self.n_vertices} rows for {n_vertices} vertices", field="skin")
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= n_joints):
            v = int(np.flatnonzero((self.indices < 0).any(1) | (self.indices >= n_joints).any(1))[0])
            raise InvalidInputError(f"vertex {v} references joint out of range", field=f"skin.indices[{v}]")
        s = self.weights.sum(1)
        bad = np.abs(s - 1) > 1e-3
        if bad.any():
            v = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(f"vertex {v} weights sum to {s[v]:.4f}, not 1", field=f"skin.weights[{v}]")
        return self

    def limit(self, k: int) -> "SkinWeights":
        """Top-k influences, renormalized."""
        if k >= self.max_influences:
            return self
        J = int(self.indices.max()) + 1
        return SkinWeights.from_dense(self.to_dense(J), k)

    def quantize(self, bits: int = 8) -> "SkinWeights":
        """Quantize to ``bits`` (8 or 16) unsigned levels with rows summing exactly to 2**bits - 1.

        Largest-remainder rounding keeps the exact unit sum engines expect (glTF UNSIGNED_BYTE/SHORT
        normalized weights). Returns float weights that are exact multiples of 1/(2**bits - 1).
        """
        if bits not in (8, 16):
            raise InvalidInputError(f"quantization bits must be 8 or 16, got {bits}", field="bits")
        q = quantize_rows(self.weights.astype(np.float64), (1 << bits) - 1)
        w = q.astype(np.float64) / ((1 << bits) - 1)
        return SkinWeights(np.where(q > 0, self.indices, 0), w.astype(np.float32))


def quantize_rows(w: np.ndarray, total: int) -> np.ndarray:
    """Integer rows summing exactly to ``total`` closest to ``w * total`` (largest remainder)."""
    x = w / np.maximum(w.sum(1, keepdims=True), 1e-30) * total
    q = np.floor(x).astype(np.int64)
    short = total - q.sum(1)
    order = np.argsort(-(x - q), axis=1, kind="stable")
    for r in range(w.shape[1]):
        add = short > r
        q[np.flatnonzero(add), order[add, r]] += 1
    return q
