"""Registration + texture propagation on marching-cubed clips of the shared characters (see
sdk/evaluation/registration.py for the protocol and metric definitions).

    python bench/bench_registration.py [--assets cesium,fox] [--frames 48] [--res 128] [--variants clean,similarity]
        [--modes template,chain] [--device cpu|cuda] [--iterations 60] [--out results.json] [--save-seq DIR]

Prints one row per (asset, variant, mode): Chamfer (registered vs raw, % of the diagonal), F@1 %, drift at the last
frame and averaged over t (% of the diagonal), UV error in texels (CesiumMan, 1024^2 texture: raw, seam-aware, and
with the template's uvs propagated with seams; smeared faces), seconds per frame.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSETS = {"cesium": ("CesiumMan/CesiumMan.glb", None, 1024), "fox": ("Fox/Fox.glb", "Survey", 1024)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", default="cesium")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "rigged"))
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--variants", default="clean")
    ap.add_argument("--modes", default="template,chain")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--save-seq", default=None, help="folder for registered sequences (.npz, every 2nd frame)")
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from sdk.evaluation.registration import run
    from sdk.registration import RegistrationConfig
    cfg = RegistrationConfig(device=a.device)
    if a.iterations:
        cfg = replace(cfg, iterations=a.iterations)
    rows = []
    for key in a.assets.split(","):
        rel, clip, tex = ASSETS[key]
        for variant in a.variants.split(","):
            t0 = time.perf_counter()
            rs, seqs, c = run(Path(a.data) / rel, clip, frames=a.frames, res=a.res, variant=variant,
                              modes=tuple(a.modes.split(",")), config=cfg, tex_size=tex if c_has_uv(key) else None)
            for r in rs:
                r["device"] = a.device
                rows.append(r)
                print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                                  if k != "uv_breakdown"}), flush=True)
                if "uv_breakdown" in r:
                    print("# uv breakdown:", json.dumps(r["uv_breakdown"]), flush=True)
            if a.save_seq:
                d = Path(a.save_seq)
                d.mkdir(parents=True, exist_ok=True)
                for mode, s in seqs.items():
                    np.savez_compressed(d / f"{key}_{variant}_{a.res}_{mode}.npz", vertices=s.vertices[::2].astype(np.float32),
                                        faces=s.faces.astype(np.int32), fps=s.fps / 2,
                                        gt=c.gt.vertices[::2].astype(np.float32), gt_faces=c.gt.faces.astype(np.int32))
            print(f"# {key} {variant}: {time.perf_counter() - t0:.0f}s", flush=True)
    hdr = ("asset", "variant", "res", "mode", "chamfer_reg_pct", "chamfer_raw_pct", "chamfer_ratio", "fscore_reg",
           "fscore_raw", "drift_last_mean_pct", "drift_mean_over_t_pct", "uv_err_mean_texels", "uv_err_median_texels",
           "uv_seam_aware_mean_texels", "uv_seam_aware_median_texels", "uv_split_seam_aware_mean_texels",
           "uv_smeared_faces_pct", "uv_split_smeared_faces_pct", "seconds_per_frame")
    print(" | ".join(hdr))
    for r in rows:
        print(" | ".join(f"{r.get(h):.3f}" if isinstance(r.get(h), float) else str(r.get(h, "-")) for h in hdr))
    if a.out:
        Path(a.out).write_text(json.dumps(rows, indent=1))
    return 0


def c_has_uv(key: str) -> bool:
    return key == "cesium"  # Fox's texture is a flat-coloured atlas: UV error is not meaningful there


if __name__ == "__main__":
    raise SystemExit(main())
