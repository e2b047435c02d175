"""3D Gaussians (3DGS) and their time sequences: leaf data types with invariants, no IO, no algorithms.

Conventions (shared by the renderer, the 4D-GS fitter and the exporters):

* ``quats`` are unit quaternions in (w, x, y, z) order, as ``sdk.core.transforms``;
* ``scales`` are the per-axis standard deviations in world units (linear, not log);
* ``opacities`` are in [0, 1] (not logits);
* ``sh`` holds spherical-harmonic colour coefficients ``[N, K, 3]`` with ``K = (degree + 1) ** 2``;
  the DC term ``sh[:, 0]`` maps to RGB as ``0.5 + C0 * sh[:, 0]`` (C0 = 0.28209479177387814), as in 3DGS.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidInputError

SH_C0 = 0.28209479177387814


def sh_degree_of(k: int) -> int:
    d = int(round(np.sqrt(k))) - 1
    if (d + 1) ** 2 != k:
        raise InvalidInputError(f"spherical-harmonic coefficient count {k} is not a square (1, 4, 9, 16)", field="sh")
    return d


@dataclass
class GaussianCloud:
    means: np.ndarray  # [N, 3] float32
    quats: np.ndarray  # [N, 4] float32, (w, x, y, z), unit
    scales: np.ndarray  # [N, 3] float32, standard deviations (linear)
    opacities: np.ndarray  # [N] float32 in [0, 1]
    sh: np.ndarray  # [N, K, 3] float32, K = (degree + 1) ** 2
    name: str = "gaussians"

    def __post_init__(self):
        self.means = np.asarray(self.means, dtype=np.float32).reshape(-1, 3)
        n = len(self.means)
        self.quats = np.asarray(self.quats, dtype=np.float32).reshape(n, 4)
        self.scales = np.asarray(self.scales, dtype=np.float32).reshape(n, 3)
        self.opacities = np.asarray(self.opacities, dtype=np.float32).reshape(n)
        sh = np.asarray(self.sh, dtype=np.float32)
        if sh.ndim == 2:  # plain RGB colours [N, 3] -> DC coefficients
            sh = ((sh - 0.5) / SH_C0)[:, None, :]
        self.sh = sh.reshape(n, -1, 3)

    @property
    def n(self) -> int:
        return len(self.means)

    @property
    def sh_degree(self) -> int:
        return sh_degree_of(self.sh.shape[1])

    @property
    def colors(self) -> np.ndarray:  # [N, 3] the view-independent (DC) colour
        return np.clip(0.5 + SH_C0 * self.sh[:, 0], 0.0, 1.0)

    def validate(self, source: str | None = None) -> "GaussianCloud":
        """Raise InvalidInputError naming the first bad Gaussian; returns self unchanged."""
        if self.n == 0:
            raise InvalidInputError("no Gaussians", field="means", source=source)
        for name in ("means", "quats", "scales", "opacities", "sh"):
            a = getattr(self, name).reshape(self.n, -1)
            bad = ~np.isfinite(a).all(1)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InvalidInputError(f"Gaussian {i} has a non-finite {name}", field=f"{name}[{i}]", source=source)
        qn = np.linalg.norm(self.quats, axis=1)
        if (qn < 1e-8).any():
            i = int(np.flatnonzero(qn < 1e-8)[0])
            raise InvalidInputError(f"Gaussian {i} has a zero quaternion", field=f"quats[{i}]", source=source)
        if (self.scales < 0).any():
            i = int(np.flatnonzero((self.scales < 0).any(1))[0])
            raise InvalidInputError(f"Gaussian {i} has a negative scale", field=f"scales[{i}]", source=source)
        o = self.opacities
        if ((o < 0) | (o > 1)).any():
            i = int(np.flatnonzero((o < 0) | (o > 1))[0])
            raise InvalidInputError(f"Gaussian {i} opacity {float(o[i])} is outside [0, 1]", field=f"opacities[{i}]",
                                    source=source)
        sh_degree_of(self.sh.shape[1])
        return self


@dataclass
class GaussianSequence:
    """Gaussians over time with a fixed count ``N``: per-frame means/quats/scales; opacities and SH shared unless
    given per frame (``[T, N]`` / ``[T, N, K, 3]``)."""
    means: np.ndarray  # [T, N, 3] float32
    quats: np.ndarray  # [T, N, 4] float32
    scales: np.ndarray  # [T, N, 3] float32
    opacities: np.ndarray  # [N] or [T, N] float32
    sh: np.ndarray  # [N, K, 3] or [T, N, K, 3] float32
    fps: float = 30.0
    name: str = "gaussians"
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))  # [T] seconds; empty -> frame / fps

    def __post_init__(self):
        self.means = np.asarray(self.means, dtype=np.float32)
        if self.means.ndim != 3 or self.means.shape[-1] != 3:
            raise InvalidInputError(f"means must be [T, N, 3], got {tuple(self.means.shape)}", field="means")
        t, n = self.means.shape[:2]
        self.quats = np.asarray(self.quats, dtype=np.float32).reshape(t, n, 4)
        self.scales = np.asarray(self.scales, dtype=np.float32).reshape(t, n, 3)
        self.opacities = np.asarray(self.opacities, dtype=np.float32)
        self.sh = np.asarray(self.sh, dtype=np.float32)
        self.times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        if not len(self.times):
            self.times = np.arange(t) / float(self.fps)
        if len(self.times) != t:
            raise InvalidInputError(f"{len(self.times)} times for {t} frames", field="times")

    @property
    def n_frames(self) -> int:
        return self.means.shape[0]

    @property
    def n(self) -> int:
        return self.means.shape[1]

    def frame(self, i: int) -> GaussianCloud:
        """Frame ``i`` as a GaussianCloud."""
        if not -self.n_frames <= i < self.n_frames:
            raise InvalidInputError(f"frame {i} is out of range (sequence has {self.n_frames} frames)", field="frame")
        op = self.opacities[i] if self.opacities.ndim == 2 else self.opacities
        sh = self.sh[i] if self.sh.ndim == 4 else self.sh
        return GaussianCloud(self.means[i], self.quats[i], self.scales[i], op, sh, name=f"{self.name}_{i}")

    def validate(self, source: str | None = None) -> "GaussianSequence":
        if self.n_frames == 0:
            raise InvalidInputError("sequence has no frames", field="means", source=source)
        for i in range(self.n_frames):
            try:
                self.frame(i).validate()
            except InvalidInputError as e:
                raise InvalidInputError(f"frame {i}: {e}", field=f"frame {i}", source=source) from None
        return self
