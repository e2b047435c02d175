"""Mesh sequences with fixed topology (4D caches): ``vertices [T, V, 3]`` + optional ``faces [F, 3]`` + ``fps``.

A leaf data type: readers live in ``sdk.io`` / ``sdk.motionrig.sequence``, writers in ``exporters``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InvalidInputError, MotionWarning


@dataclass
class MeshSequence:
    vertices: np.ndarray  # [T, V, 3] float64
    faces: np.ndarray | None = None  # [F, 3] int64 (None for point trajectories)
    fps: float = 30.0
    name: str = "sequence"
    source: str | None = None
    clip: str | None = None  # the animation clip it was baked from, when known
    static: bool = False  # set by validate(): no vertex moves more than static_tol
    dropped_frames: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # set by validate(nan_frames="drop")

    def __post_init__(self):
        v = np.asarray(self.vertices, dtype=np.float64)
        if v.ndim == 2 and v.shape[-1] == 3:
            v = v[None]
        if v.ndim != 3 or v.shape[-1] != 3:
            raise InvalidInputError(f"sequence vertices must have shape [T, V, 3], got {tuple(v.shape)}",
                                    field="vertices", source=self.source)
        self.vertices = v
        if self.faces is not None:
            f = np.asarray(self.faces, dtype=np.int64).reshape(-1, 3)
            self.faces = f if len(f) else None

    # ------------------------------------------------------------------ properties
    @property
    def n_frames(self) -> int:
        return self.vertices.shape[0]

    @property
    def n_vertices(self) -> int:
        return self.vertices.shape[1]

    @property
    def rest(self) -> np.ndarray:  # [V, 3]
        return self.vertices[0]

    @property
    def bbox_diagonal(self) -> float:
        v = self.vertices.reshape(-1, 3)
        v = v[np.isfinite(v).all(1)]
        return float(np.linalg.norm(v.max(0) - v.min(0))) if len(v) else 0.0

    def motion_extent(self) -> float:
        """Largest displacement of any vertex from frame 0, as a fraction of the bbox diagonal."""
        d = np.linalg.norm(self.vertices - self.vertices[:1], axis=-1).max()
        return float(d / max(self.bbox_diagonal, 1e-30))

    # ------------------------------------------------------------------ validation
    def validate(self, *, min_frames: int = 2, nan_frames: str = "error", static_tol: float = 1e-4) -> "MeshSequence":
        """Check the sequence; raise :class:`InvalidInputError` naming the problem.

        ``nan_frames``: ``"error"`` (default) or ``"drop"`` (frames with non-finite vertices are removed with a
        :class:`MotionWarning`; frame 0 must be finite). A sequence with no motion (every vertex moves less than
        ``static_tol`` of the bbox diagonal) gives a :class:`MotionWarning`. Never mutates ``self``: returns a new
        sequence (arrays shared) with ``static`` and ``dropped_frames`` filled in; use the returned one.
        """
        src = self.source
        T, V = self.n_frames, self.n_vertices
        if V == 0:
            raise InvalidInputError("sequence has no vertices", field="vertices", source=src)
        bad = ~np.isfinite(self.vertices).all(axis=(1, 2))
        if bad.any():
            frames = np.flatnonzero(bad)
            first_v = int(np.flatnonzero(~np.isfinite(self.vertices[frames[0]]).all(1))[0])
            msg = (f"{len(frames)} frame(s) have non-finite vertices (first: frame {int(frames[0])}, vertex {first_v}; "
                   f"frames {frames[:10].tolist()}{'...' if len(frames) > 10 else ''})")
            if nan_frames != "drop" or bad[0] or bad.all():
                raise InvalidInputError(msg + ("; frame 0 (the rest pose) must be finite" if bad[0] and nan_frames == "drop"
                                               else "; pass nan_frames='drop' to drop them"),
                                        field=f"vertices[{int(frames[0])}]", source=src)
            warnings.warn(msg + "; dropped", MotionWarning, stacklevel=2)
            out = replace(self, vertices=self.vertices[~bad], dropped_frames=frames)
            T = out.n_frames
        else:
            out = replace(self)
        if T < min_frames:
            raise InvalidInputError(f"sequence has {T} frame(s); recovering a rig from motion needs at least {min_frames}",
                                    field="vertices", source=src)
        if self.faces is not None and len(self.faces):
            f = self.faces
            if f.min() < 0 or f.max() >= V:
                i = int(np.flatnonzero((f < 0).any(1) | (f >= V).any(1))[0])
                raise InvalidInputError(f"face {i} references vertex out of range {f[i].tolist()} (sequence has {V} vertices)",
                                        field=f"faces[{i}]", source=src)
        if not self.fps > 0:
            raise InvalidInputError(f"fps must be positive, got {self.fps}", field="fps", source=src)
        ext = out.motion_extent()
        out = replace(out, static=bool(ext < static_tol))
        if out.static:
            warnings.warn(f"{src or self.name}: no motion (largest displacement {ext:.2e} of the bbox diagonal)",
                          MotionWarning, stacklevel=2)
        return out

    # ------------------------------------------------------------------ helpers
    def subsample(self, max_frames: int | None) -> "MeshSequence":
        """At most ``max_frames`` frames, evenly spaced (frame 0 kept); fps scaled accordingly."""
        if max_frames is None or self.n_frames <= max_frames:
            return self
        idx = np.unique(np.round(np.linspace(0, self.n_frames - 1, max_frames)).astype(np.int64))
        step = (self.n_frames - 1) / max(len(idx) - 1, 1)
        return MeshSequence(self.vertices[idx], self.faces, self.fps / step, self.name, self.source, self.clip)
