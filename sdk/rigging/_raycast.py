"""Segment-vs-mesh occlusion queries: NVIDIA Warp BVH on the CPU, numpy brute force as fallback."""
from __future__ import annotations

import numpy as np

_KERNEL = None


def _quiet_init(wp) -> None:
    """wp.init() without Warp's start-up banner on the CLI.

    Warp >= 1.10 dropped ``warp.config.quiet`` for ``warp.config.log_level`` (the banner and the
    "Module ... load" lines are info level); older versions still read ``quiet``. The native
    library also prints "Warp CUDA warning: Could not find or load the NVIDIA CUDA driver" straight
    to fd 2 on machines without a GPU: stderr is captured during init and replayed only if
    ``wp.init()`` fails.
    """
    import os
    import sys
    import tempfile
    wp.config.quiet = True
    if hasattr(wp.config, "log_level") and hasattr(wp, "LOG_WARNING"):
        wp.config.log_level = max(int(wp.config.log_level), int(wp.LOG_WARNING))
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreter): just init
        wp.init()
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            wp.init()
        except BaseException:
            os.dup2(saved, 2)
            tmp.seek(0)
            sys.stderr.write(tmp.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _warp_kernel():
    global _KERNEL
    if _KERNEL is None:
        import warp as wp
        _quiet_init(wp)

        @wp.kernel
        def occluded(mesh: wp.uint64, start: wp.array(dtype=wp.vec3), end: wp.array(dtype=wp.vec3),
                     eps: float, hit: wp.array(dtype=wp.int32)):
            i = wp.tid()
            d = end[i] - start[i]
            L = wp.length(d)
            if L <= 2.0 * eps:
                hit[i] = 0
                return
            dirn = d / L
            q = wp.mesh_query_ray(mesh, start[i] + dirn * eps, dirn, L - 2.0 * eps)
            if q.result:
                hit[i] = 1
            else:
                hit[i] = 0

        _KERNEL = occluded
    return _KERNEL


class Occluder:
    """Tests whether segments cross the surface. vertices [W, 3], faces [F, 3]."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, backend: str = "auto"):
        self.v = np.asarray(vertices, dtype=np.float64)
        self.f = np.asarray(faces, dtype=np.int64)
        self.backend = backend
        self._mesh = None
        if backend in ("auto", "warp"):
            try:
                import warp as wp
                _warp_kernel()
                self._mesh = wp.Mesh(points=wp.array(self.v.astype(np.float32), dtype=wp.vec3, device="cpu"),
                                     indices=wp.array(self.f.astype(np.int32).ravel(), dtype=wp.int32, device="cpu"))
                self.backend = "warp"
            except ImportError:
                if backend == "warp":
                    from ..errors import MissingDependencyError
                    raise MissingDependencyError("warp-lang", "bone-heat visibility on large meshes")
                self.backend = "numpy"

    def occluded(self, start: np.ndarray, end: np.ndarray, eps: float) -> np.ndarray:
        """start, end [N, 3] -> bool [N]: the open segment (shrunk by ``eps`` at both ends) hits a face."""
        if len(start) == 0:
            return np.zeros(0, dtype=bool)
        if self.backend == "warp":
            import warp as wp
            hit = wp.zeros(len(start), dtype=wp.int32, device="cpu")
            wp.launch(_warp_kernel(), dim=len(start),
                      inputs=[self._mesh.id, wp.array(start.astype(np.float32), dtype=wp.vec3, device="cpu"),
                              wp.array(end.astype(np.float32), dtype=wp.vec3, device="cpu"), float(eps), hit],
                      device="cpu")
            wp.synchronize_device("cpu")
            return hit.numpy().astype(bool)
        return _numpy_occluded(self.v, self.f, start, end, eps)


def _numpy_occluded(v, f, start, end, eps, chunk: int = 256) -> np.ndarray:
    """Möller–Trumbore of every segment against every triangle (reference / fallback)."""
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    e1, e2 = b - a, c - a
    out = np.zeros(len(start), dtype=bool)
    for s in range(0, len(start), chunk):
        o = start[s:s + chunk, None, :]
        d = end[s:s + chunk, None, :] - o
        L = np.linalg.norm(d, axis=-1)
        dn = d / np.maximum(L[..., None], 1e-300)
        o = o + dn * eps
        tmax = L - 2 * eps
        p = np.cross(dn, e2[None])
        det = (e1[None] * p).sum(-1)
        inv = 1.0 / np.where(np.abs(det) < 1e-20, np.inf, det)
        tv = o - a[None]
        u = (tv * p).sum(-1) * inv
        q = np.cross(tv, e1[None])
        w = (dn * q).sum(-1) * inv
        t = (e2[None] * q).sum(-1) * inv
        hit = (u >= 0) & (w >= 0) & (u + w <= 1) & (t >= 0) & (t <= tmax) & (tmax > 0)
        out[s:s + chunk] = hit.any(1)
    return out
