"""Harmonic skinning weights: ours vs libigl (igl.harmonic) on the same meshes and constraints.

Procedural bumpy tubes, 5k -> 200k vertices, 20 part bands along the axis. Both solvers get the
same mesh, the same constrained vertices ``b`` (everything outside the transition bands, from
``sdk.rigging.harmonic.free_band`` with the library's default blend, or ``--blend``) and the same values ``bc`` (part indicators), and
return W [V, 20]. Timed: ours = ``harmonic_solve`` (what ``harmonic_weights`` does after choosing
the band: cotangent weights of the faces touching the band, free rows assembled in block order,
one SuperLU factorization per band piece); libigl = ``igl.harmonic(V, F, b, bc, 1)``
(cotmatrix + massmatrix + min_quad_with_fixed with Eigen's sparse Cholesky). The operator is the
plain cotangent Laplacian on both sides (``clamp_negative=False``; on these meshes no edge weight is
negative anyway). Wall and CPU (``time.process_time``) time are the *median* of ``--repeats`` interleaved runs
(ours, libigl, ours, libigl, ...; the machine is shared), after one untimed warm-up call of each; the load
(``os.getloadavg``) is printed with the table, which is ready to paste into docs/rigging.md.

    OMP_NUM_THREADS=1 python bench/bench_harmonic.py [--sizes 5000,20000,50000,200000] [--repeats 3] [--blend 0.5]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bumpy_tube(n_vertices: int, n_parts: int = 20, length: float = 60.0):
    """Open tube along z with radius bumps; returns vertices [V, 3], faces [F, 3], labels [V]."""
    na = max(8, int(round(np.sqrt(n_vertices * 2 * np.pi / length))))
    nl = max(n_parts * 2, int(round(n_vertices / na)))
    th = np.linspace(0, 2 * np.pi, na, endpoint=False)
    z = np.linspace(0, length, nl)
    T, Z = np.meshgrid(th, z)  # [nl, na]
    r = 1.0 + 0.15 * np.sin(3 * T) * np.sin(0.7 * Z) + 0.1 * np.cos(0.3 * Z)
    V = np.stack([r * np.cos(T), r * np.sin(T), Z], -1).reshape(-1, 3)
    i = np.arange(nl - 1)[:, None] * na
    j = np.arange(na)[None, :]
    a, b = i + j, i + (j + 1) % na
    c, d = a + na, b + na
    F = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    labels = np.minimum((V[:, 2] / length * n_parts).astype(np.int64), n_parts - 1)
    return V, F.astype(np.int64), labels


def ours(V, F, free, B):
    from sdk.rigging.harmonic import harmonic_solve
    return harmonic_solve(V, F, B, free, clamp_negative=False)


def ours_numpy(V, F, free, B):
    """The same solve with the numpy/scipy assembly (what runs without numba or with ARTICULATE_NUMBA=0)."""
    import sdk.rigging.harmonic as H
    saved = os.environ.get("ARTICULATE_NUMBA")
    os.environ["ARTICULATE_NUMBA"] = "0"
    try:
        return H.harmonic_solve(V, F, B, free, clamp_negative=False)
    finally:
        os.environ["ARTICULATE_NUMBA"] = saved if saved is not None else ""


def libigl(V, F, free, B):
    import igl
    b = np.flatnonzero(~free).astype(np.int64)
    return igl.harmonic(V, F, b, np.ascontiguousarray(B[b]), 1)


def timed_pair(fa, fb, repeats):
    """Median wall and CPU time of two functions over ``repeats`` interleaved runs (a, b, a, b, ...).

    Returns (wall_a, cpu_a, out_a, wall_b, cpu_b, out_b). CPU time (process_time) is reported too
    because the machine is shared: wall time includes waiting for a core. One untimed warm-up call each.
    """
    runs = {"a": [], "b": []}
    out = {"a": fa(), "b": fb()}
    for _ in range(repeats):
        for k, fn in (("a", fa), ("b", fb)):
            t, c = time.perf_counter(), time.process_time()
            out[k] = fn()
            runs[k].append((time.perf_counter() - t, time.process_time() - c))
    med = {k: np.median(np.array(v), axis=0) for k, v in runs.items()}
    return (*med["a"], out["a"], *med["b"], out["b"])


def main(argv=None):
    # "ours" is the compiled assembly (numba); the library only uses it by default when numba is already loaded in
    # the process (one-shot callers would pay ~1 s to import it): the "numpy assembly" columns are that default
    os.environ.setdefault("ARTICULATE_NUMBA", "1")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="5000,20000,50000,200000")
    ap.add_argument("--parts", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--blend", type=float, default=None, help="band half-width in loop radii (default: the library default)")
    args = ap.parse_args(argv)
    from sdk.rigging.harmonic import DEFAULT_BLEND, free_band
    if args.blend is None:
        args.blend = DEFAULT_BLEND
    rows = []
    try:
        import qdldl  # noqa: F401
        solver = "qdldl LDL^T"
    except ImportError:
        solver = "SuperLU (qdldl not installed)"
    from sdk.rigging.harmonic import _numba_kernel
    V0, F0, lab0 = bumpy_tube(5000, args.parts)
    free0 = free_band(V0, F0, lab0, args.blend)
    t = time.perf_counter()
    ours(V0, F0, free0, np.eye(args.parts)[lab0])
    first = time.perf_counter() - t
    asm = ("compiled (numba; ARTICULATE_NUMBA=1, the library default only once numba is loaded)"
           if _numba_kernel() is not None else "numpy (numba not installed or ARTICULATE_NUMBA=0)")
    print(f"blend {args.blend:g}, {args.parts} parts, median of {args.repeats} interleaved runs after a warm-up; wall and CPU "
          f"(process) seconds; ours: {asm} assembly + {solver}; first call in this process {first:.2f} s wall (5k; "
          f"numba import + kernel load, not in the table); OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| V | free | ours s | libigl s | speedup | ours CPU s | libigl CPU s | CPU speedup | ours CPU s, numpy assembly | "
          "CPU speedup, numpy assembly | max abs dw | ours us/V | igl us/V |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in [int(s) for s in args.sizes.split(",")]:
        V, F, lab = bumpy_tube(n, args.parts)
        free = free_band(V, F, lab, args.blend)
        B = np.zeros((len(V), args.parts))
        B[np.arange(len(V)), lab] = 1.0
        t_o, c_o, W_o, t_i, c_i, W_i = timed_pair(lambda: ours(V, F, free, B), lambda: libigl(V, F, free, B),
                                                  args.repeats)
        _, c_n, W_n, _, c_i2, _ = timed_pair(lambda: ours_numpy(V, F, free, B), lambda: libigl(V, F, free, B),
                                             args.repeats)
        dw = float(max(np.abs(W_o - W_i).max(), np.abs(W_n - W_i).max()))
        rows.append((len(V), int(free.sum()), t_o, t_i, t_i / t_o, dw))
        print(f"| {len(V):,} | {int(free.sum()):,} | {t_o:.4f} | {t_i:.4f} | {t_i / t_o:.2f}x | {c_o:.4f} | {c_i:.4f} | "
              f"{c_i / c_o:.2f}x | {c_n:.4f} | {c_i2 / c_n:.2f}x | {dw:.1e} | {1e6 * t_o / len(V):.2f} | "
              f"{1e6 * t_i / len(V):.2f} |", flush=True)
    if len(rows) > 1:
        (v0, _, o0, i0, *_), (v1, _, o1, i1, *_) = rows[0], rows[-1]
        print(f"growth {v0} -> {v1} vertices (x{v1 / v0:.0f}): ours x{o1 / o0:.1f}, libigl x{i1 / i0:.1f} "
              f"(log-log slope ours {np.log(o1 / o0) / np.log(v1 / v0):.2f}, libigl {np.log(i1 / i0) / np.log(v1 / v0):.2f})")
    return rows


if __name__ == "__main__":
    main()
