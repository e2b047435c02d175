"""The 3D half of ATOP alone: SDS transfer + OBB search with an oracle denoiser whose data are the true held-out
videos (rendered by ``sdk.render``; the SDS renders metaballs, so the renderer gap is included).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python bench/bench_atop_oracle_sds.py --data DIR --out OUT [--per-category 1]
        [--iters 100] [--points 512] [--kinds free,rigid]

Writes OUT/clouds.npz with keys "oracle-<kind>/<i>" (the format ``sdk.evaluation.joints_learned`` reads; score
with ``--kinds oracle-free,oracle-rigid --skip-a``).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdk.models.atop.dataset import decode_latents, load_dataset  # noqa: E402
from sdk.models.atop.pipeline import MotionCondition, make_scheduler  # noqa: E402
from sdk.models.atop.transfer import OracleDenoiser, TransferConfig, sds_transfer  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--per-category", type=int, default=1)
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--points", type=int, default=512)
    ap.add_argument("--kinds", default="free,rigid")
    ap.add_argument("--calibrate", type=int, default=0, help="feature calibration iterations on the rest frame (ours)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    ev = load_dataset(Path(a.data) / "eval.npz")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    sch = make_scheduler()
    cats = list(dict.fromkeys(ev["category"].tolist()))
    pick = [i for c in cats for i in np.flatnonzero(ev["category"] == c)[: a.per_category]]
    c2w = ev["camera"][0].reshape(-1, 4, 4)
    clouds, t0, n = {}, time.time(), a.points
    for kind in a.kinds.split(","):
        for i in pick:
            tgt = decode_latents(torch.as_tensor(ev["latents"][i: i + 1]).float())
            nf = tgt.shape[2]
            cond = MotionCondition(text=torch.zeros(1, 1, 4), camera=torch.zeros(1, 4, 16), mask=torch.zeros(1, 4, 1, 8, 8))
            cfg = TransferConfig(iters=a.iters, motion=kind, guidance=1.0, latent_size=tgt.shape[-1],
                                 calibrate_iters=a.calibrate)
            cl, hist = sds_transfer(OracleDenoiser(tgt, sch, nf), cond, ev["static"][i: i + 1, :n],
                                    ev["dynamic"][i: i + 1, :n], c2w, sch, cfg,
                                    static_color=ev["static_color"][i: i + 1, :n],
                                    dynamic_color=ev["dynamic_color"][i: i + 1, :n], rest_latent=tgt[:, :, 0])
            clouds[f"oracle-{kind}/{i}"] = cl[0][:, n:].astype(np.float16)
            print(f"{kind} {ev['object'][i]}/{ev['part'][i]}: SDS proxy {np.mean(hist[:5]):.4f} -> "
                  f"{np.mean(hist[-5:]):.4f}, {time.time() - t0:.0f}s", flush=True)
            np.savez_compressed(out / "clouds.npz", **clouds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
