"""Build the small ATOP model's data: training videos of procedural props and held-out evaluation packs.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python bench/bench_atop_data.py --out DIR [--train-seeds 20] [--eval-seeds 3]
        [--shared ../shared/data/articulated]

Writes DIR/train.npz (categories x seeds 0..N-1, 2 movable parts each, 4 views x 10 frames, ``dataset.py``),
DIR/eval.npz (held-out seeds 1000.., up to 2 parts each: GT video + conditioning + SDS start points) and, with
--shared, DIR/shared.npz (the shared articulated objects' parts, conditioning only: zero-shot).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdk.models.atop.dataset import (DatasetConfig, _subtree, build_dataset, condition_pack, movable_parts,  # noqa: E402
                                     render_sample, save_dataset, stack)
from sdk.procedural.props import generate_prop  # noqa: E402

CATEGORIES = ("door", "drawer", "lid", "laptop", "knob", "button", "faucet", "scissors", "microwave", "refrigerator")
EVAL_SEED0 = 1000  # the same held-out seeds as `articulate evaluate joints --procedural`


def eval_packs(seeds: int, parts: int, cfg: DatasetConfig) -> dict:
    rows = []
    for cat in CATEGORIES:
        for k in range(seeds):
            obj = generate_prop(cat, EVAL_SEED0 + k)
            m = obj.mesh()
            for pi in movable_parts(obj)[:parts]:
                rng = np.random.default_rng(k)
                s = render_sample(obj, pi, cfg, rng)
                moving = np.isin(m.face_part, _subtree(obj, pi))
                c = condition_pack(m.vertices, m.faces, moving, s["prompt"], face_colors=m.face_colors, cfg=cfg,
                                   seed=k)
                for key in ("static", "dynamic", "static_color", "dynamic_color"):
                    s[key] = c[key]
                rows.append(s)
    out = stack(rows)
    for key in ("static", "dynamic", "static_color", "dynamic_color"):
        out[key] = np.stack([r[key] for r in rows])
    return out


def shared_packs(data: Path, cfg: DatasetConfig, max_joints: int) -> dict:
    from sdk.evaluation.joints import _gt_subtree, find_objects, load_object, semantic_prompts
    from sdk.articulation.articulate import _face_labels
    rows = []
    for name, path in find_objects(data):
        asset = load_object(path)
        mesh, parts = asset.mesh, asset.parts
        movable = [p for p in parts.names if asset.gt_joints.get(p)][:max_joints]
        prompts = semantic_prompts(asset, path)
        fl = _face_labels(mesh, parts)
        up = np.array([0.0, 0.0, 1.0])  # URDF / MJCF are Z-up (ArticulateConfig.up_axis auto)
        for p in movable:
            ids = [parts.names.index(s) for s in _gt_subtree(asset, p)]
            moving = np.isin(fl, ids)
            if moving.all() or not moving.any():
                continue
            c = condition_pack(mesh.vertices, mesh.faces, moving, prompts[p], cfg=cfg, up=up)
            c.update(object=name, part=p)
            rows.append(c)
        print(f"  {name}: {len(movable)} parts", flush=True)
    keys = [k for k in rows[0] if k not in ("prompt", "object", "part")]
    out = {k: np.stack([np.asarray(r[k]) for r in rows]) for k in keys}
    out.update({k: np.array([r[k] for r in rows]) for k in ("prompt", "object", "part")})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--train-seeds", type=int, default=20)
    ap.add_argument("--parts", type=int, default=2)
    ap.add_argument("--eval-seeds", type=int, default=3)
    ap.add_argument("--shared", default=None)
    ap.add_argument("--skip-train", action="store_true")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = DatasetConfig()
    t0 = time.time()
    if not a.skip_train:
        tr = build_dataset(CATEGORIES, range(a.train_seeds), cfg, parts_per_object=a.parts, seed=0)
        save_dataset(out / "train.npz", tr)
        print(f"train: {len(tr['prompt'])} samples, {time.time() - t0:.0f}s", flush=True)
    if a.eval_seeds:
        ev = eval_packs(a.eval_seeds, a.parts, cfg)
        save_dataset(out / "eval.npz", ev)
        print(f"eval: {len(ev['prompt'])} held-out parts, {time.time() - t0:.0f}s", flush=True)
    if a.shared:
        sh = shared_packs(Path(a.shared), cfg, 2)
        save_dataset(out / "shared.npz", sh)
        print(f"shared: {len(sh['prompt'])} parts, {time.time() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
