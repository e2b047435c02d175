"""Time the 4D mesh-cache writers on 48 frames x ~35k vertices (BrainStem's walk, baked), on CPU.

    python bench/bench_mesh_cache.py [--frames 48] [--repeats 3] [--alembic]

BrainStem (Poser EULA, benchmarks only) has 34,159 skinned vertices. Goal: the .usdc cache (points + extent) in
<= 1 s and <= 25 MB. Reported: min of ``--repeats`` wall times (the machine is shared; numbers are loaded-machine
numbers), file sizes, and the exactness of the UsdGeom read-back.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "rigged"


def _size(paths) -> float:
    return sum(p.stat().st_size if p.is_file() else sum(q.stat().st_size for q in p.rglob("*") if q.is_file())
               for p in paths if p.exists()) / 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--alembic", action="store_true", help="also time the Alembic export (needs bpy)")
    ap.add_argument("--asset", default=str(DATA / "BrainStem" / "BrainStem.glb"))
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from exporters.gltf_morph import write_mesh_cache_gltf
    from exporters.usd_cache import cache_paths, write_mesh_cache_usd
    from sdk.core import MeshSequence
    from sdk.io import load_asset
    from sdk.motionrig.sequence import load_usd_points
    asset = load_asset(a.asset)
    v = asset.rig.animate()[: a.frames]
    seq = MeshSequence(v, asset.mesh.faces, 30.0, "BrainStem", uvs=asset.mesh.uvs)
    print(f"{Path(a.asset).name}: {seq.n_frames} frames x {seq.n_vertices} vertices, {len(seq.faces)} faces")
    rows = []
    with tempfile.TemporaryDirectory() as td:
        td = Path(td)
        cases = [("usdc points+extent", lambda p: write_mesh_cache_usd(seq, p), "c.usdc"),
                 ("usdc +normals+velocities", lambda p: write_mesh_cache_usd(seq, p, normals=True, velocities=True),
                  "n.usdc"),
                 ("usda points+extent", lambda p: write_mesh_cache_usd(seq, p), "a.usda"),
                 ("glb morph flipbook", lambda p: write_mesh_cache_gltf(seq, p), "m.glb")]
        if a.alembic:
            from exporters.alembic import write_mesh_cache_alembic
            cases.append(("abc via bpy (incl. usdc + Blender start)", lambda p: write_mesh_cache_alembic(seq, p), "x.abc"))
        for name, fn, fname in cases:
            p = td / fname
            ts = []
            for _ in range(a.repeats if "abc" not in fname else 1):
                t0 = time.perf_counter()
                fn(p)
                ts.append(time.perf_counter() - t0)
            files = list(cache_paths(p).values()) if p.suffix.startswith(".usd") else [p]
            rows.append((name, min(ts), _size(files)))
        t0 = time.perf_counter()
        r = load_usd_points(td / "c.usdc")
        t_read = time.perf_counter() - t0
        err = float(np.abs(r.vertices - seq.vertices.astype(np.float32)).max())
    print(f"{'writer':44s} {'min s':>7s} {'MB':>7s}")
    for name, t, mb in rows:
        print(f"{name:44s} {t:7.3f} {mb:7.1f}")
    print(f"read back .usdc (load_usd_points): {t_read:.3f}s, max |err| vs float32 input {err:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
