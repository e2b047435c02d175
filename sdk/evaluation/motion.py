"""Rig-from-motion evaluation: recover kinematic parts and skinning from baked clips of rigged assets.

For every asset in ``--data`` (default ../shared/data/rigged) and up to ``--clips`` clips of each: bake the clip
to a vertex sequence (at most ``--frames`` frames), throw the rig away, run ``rig_from_motion`` and compare

* kinematic parts (SP4D App. D: Hungarian matching on IoU; mIoU, ARI, F1, mAcc) against the ground-truth parts,
  i.e. the argmax of the true skin after SP4D §3.3 bone merging with the *true* bone transforms of that clip
  (connected bones whose relative displacement over the clip -- the true surface points of one bone against the
  other bone's true motion -- stays below 1% of the bbox diagonal are one kinematic part; this is how
  KinematicParts20K reduces its rigs). The raw argmax parts (no merging) are scored too (``raw mIoU``).
* vertex RMSE of the recovered LBS rig replaying the clip, as % of the bbox diagonal.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "rigged"
# default run: assets (folder names), clips per asset and frames per clip, to stay under ~4 min on 2 cores
DEFAULT_ASSETS = ["Fox", "CesiumMan", "RiggedFigure", "RiggedSimple", "RobotExpressive", "Quaternius_Wolf",
                  "Quaternius_Deer", "BrainStem"]


# ---------------------------------------------------------------------- metrics (SP4D App. D)
def part_metrics(gt: np.ndarray, pred: np.ndarray) -> dict:
    """gt [V], pred [V] integer labels -> mIoU, ARI, F1, mAcc with Hungarian matching on IoU.

    mIoU, F1 (per-part Dice) and mAcc (per-part recall) are averaged over ground-truth parts; a ground-truth
    part left unmatched (fewer predicted parts) scores 0. ARI is permutation-free.
    """
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import adjusted_rand_score
    gt = np.unique(gt, return_inverse=True)[1].reshape(-1)
    pred = np.unique(pred, return_inverse=True)[1].reshape(-1)
    G, P = gt.max() + 1, pred.max() + 1
    inter = np.zeros((G, P))
    np.add.at(inter, (gt, pred), 1)
    ng, npred = np.bincount(gt, minlength=G), np.bincount(pred, minlength=P)
    iou = inter / np.maximum(ng[:, None] + npred[None] - inter, 1)
    r, c = linear_sum_assignment(-iou)
    m_iou, f1, acc = np.zeros(G), np.zeros(G), np.zeros(G)
    m_iou[r] = iou[r, c]
    f1[r] = 2 * inter[r, c] / (ng[r] + npred[c])
    acc[r] = inter[r, c] / ng[r]
    return {"mIoU": float(m_iou.mean()), "ARI": float(adjusted_rand_score(gt, pred)), "F1": float(f1.mean()),
            "mAcc": float(acc.mean()), "n_gt": int(G), "n_pred": int(P)}


def merged_ground_truth(rig, anim_world: np.ndarray, weld_index: np.ndarray, edges: np.ndarray,
                        merge_tol: float = 0.01, static_tol: float = 0.004) -> np.ndarray:
    """SP4D §3.3 bone merging applied to the true rig: argmax-skin parts merged with the true bone motion.

    anim_world [T, J, 4, 4] true world joint transforms; weld_index/edges: the welded vertex graph used for
    adjacency. Returns merged part labels per original vertex.
    """
    import torch
    from ..motionrig.parts import merge_bones
    skin = rig.skeleton.skinning_matrices(anim_world)  # [T, J, 4, 4] rest -> frame t
    winner = rig.skin.indices[:, 0]
    posed_all = rig.pose(anim_world)  # [T, V, 3] displacements live in the posed space
    posed = posed_all[0]
    diag = float(np.linalg.norm(posed.max(0) - posed.min(0))) or 1.0
    used, lab = np.unique(winner, return_inverse=True)
    m = torch.as_tensor(skin[:, used].transpose(1, 0, 2, 3).copy())
    # on the welded vertices (one representative each) so soups count each point once in adjacency
    rep = np.zeros(weld_index.max() + 1, dtype=np.int64)
    rep[weld_index] = np.arange(len(weld_index))
    new, _, _ = merge_bones(m, lab[rep], torch.as_tensor(posed_all[:, rep]), edges, merge_tol, static_tol, None, diag)
    return new[weld_index]


def oracle_bone_parts(rig, anim_world: np.ndarray, weld_index: np.ndarray, edges: np.ndarray,
                      merge_tol: float = 0.01, static_tol: float = 0.004) -> np.ndarray:
    """Diagnostic upper bound of the recovery's *merging* step: the true bones (argmax of the true skin) with rigid
    motions **fitted to their surface points** (all a method that sees only the vertices can know), merged by the
    same SP4D §3.3 rule as the ground truth. It differs from ``merged_ground_truth`` only in the bone motions
    (fitted vs true), so a gap between our mIoU and this one is the over-segmentation's (how far our bones are from
    the true ones), and a gap between this and 1 is what fitted motions alone change. Labels per original vertex.
    """
    import torch
    from ..geometry.rigid import fit_part_transforms
    from ..motionrig.parts import merge_bones
    posed_all = rig.pose(anim_world)  # [T, V, 3]
    diag = float(np.linalg.norm(posed_all[0].max(0) - posed_all[0].min(0))) or 1.0
    rep = np.zeros(weld_index.max() + 1, dtype=np.int64)
    rep[weld_index] = np.arange(len(weld_index))
    _, lab = np.unique(rig.skin.indices[:, 0][rep], return_inverse=True)
    traj = torch.as_tensor(posed_all[:, rep])
    fit = fit_part_transforms(traj[0], traj, torch.as_tensor(lab), int(lab.max()) + 1)
    new, _, _ = merge_bones(fit, lab, traj, edges, merge_tol, static_tol, None, diag)
    return new[weld_index]


# ---------------------------------------------------------------------- driver
def add_arguments(p):
    p.add_argument("--data", default=str(DEFAULT_DATA), help="folder of rigged assets (<Name>/<file>.gl*)")
    p.add_argument("--assets", nargs="*", default=None, help=f"asset folder names (default: {' '.join(DEFAULT_ASSETS)})")
    p.add_argument("--clips", type=int, default=2, help="clips per asset (default 2; 0 = all)")
    p.add_argument("--frames", type=int, default=48, help="frames per clip, evenly spaced (default 48)")
    p.add_argument("--max-bones", type=int, default=None)
    p.add_argument("--iterations", type=int, default=8, help="SSDR iterations")
    p.add_argument("--merge-tol", type=float, default=0.01,
                   help="bone merging threshold of the *recovery* (the ground truth always uses SP4D's 1%%)")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: fastest on a busy 2-core machine; 0 = torch default)")
    p.add_argument("--json", default=None, help="also write the rows as JSON here")
    p.add_argument("--oracle", action="store_true",
                   help="also score the diagnostic 'oracle' parts: the true bones with fitted rigid motions merged by "
                        "the ground truth's rule (an upper bound of the merging step, not a method)")


def evaluate_clip(asset, clip: str, frames: int, max_bones=None, iterations=8, device=None,
                  merge_tol: float = 0.01, oracle: bool = False) -> dict:
    from ..motionrig.pipeline import rig_from_motion
    from ..core import MeshSequence
    rig = asset.rig
    anim = rig.animation(clip)
    world = anim.world_matrices(rig.skeleton.parents)
    idx = np.unique(np.round(np.linspace(0, anim.n_frames - 1, min(frames, anim.n_frames))).astype(np.int64))
    world = world[idx]
    verts = rig.pose(world)
    seq = MeshSequence(verts, asset.mesh.faces, anim.fps, f"{asset.mesh.name}_{clip}", str(asset.path))
    t0 = time.perf_counter()
    out, rep = rig_from_motion(seq, max_bones=max_bones, iterations=iterations, device=device, merge_tol=merge_tol)
    wall = time.perf_counter() - t0
    kp = rep["parts"]
    gt_raw = rig.skin.indices[:, 0]
    # ground truth on the same frames, adjacency on the same welded graph
    rest_rig = type(rig)(rig.mesh, rig.skeleton, rig.skin)
    gt = merged_ground_truth(rest_rig, world, kp.weld_index, kp.edges)
    pred = out.parts.labels
    mt = part_metrics(gt, pred)
    raw = part_metrics(gt_raw, pred)
    row = {"asset": Path(asset.path).parent.name, "clip": clip, "frames": len(idx), "V": seq.n_vertices, **mt,
           "raw_mIoU": raw["mIoU"], "n_gt_raw": raw["n_gt"], "rmse_pct": rep["rmse_pct"],
           "rigid_rmse_pct": rep["rigid_rmse_pct"], "bones": out.skeleton.n_joints, "seconds": wall}
    if oracle:
        orc = part_metrics(gt, oracle_bone_parts(rest_rig, world, kp.weld_index, kp.edges))
        row.update(oracle_mIoU=orc["mIoU"], n_oracle=orc["n_pred"])
    return row


def run(args) -> int:
    from ..motionrig.pipeline import torch_threads
    with torch_threads(args.threads or None):
        return _run(args)


def _run(args) -> int:
    import json
    import warnings
    from ..io import load_asset
    from ..errors import MotionWarning
    data = Path(args.data)
    names = args.assets or DEFAULT_ASSETS
    rows = []
    print(f"rig-from-motion evaluation on {data} ({args.clips or 'all'} clip(s)/asset, <= {args.frames} frames/clip)")
    for name in names:
        files = sorted((data / name).glob("*.gl*")) if (data / name).is_dir() else []
        if not files:
            print(f"  {name}: not found under {data}, skipped")
            continue
        asset = load_asset(files[0])
        if asset.rig is None or not asset.rig.animations:
            print(f"  {name}: no skin/animation, skipped")
            continue
        clips = [a.name for a in asset.rig.animations]
        # prefer clips with the most motion variety: longest first, stable order
        clips = sorted(clips, key=lambda c: -asset.rig.animation(c).n_frames)
        if args.clips:
            clips = clips[: args.clips]
        for clip in clips:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", MotionWarning)
                try:
                    r = evaluate_clip(asset, clip, args.frames, args.max_bones, args.iterations, args.device,
                                      args.merge_tol, args.oracle)
                except Exception as e:  # report, keep going
                    print(f"  {name}/{clip}: FAILED {type(e).__name__}: {e}")
                    continue
            rows.append(r)
            print(f"  {r['asset']:<20} {r['clip']:<16} parts {r['n_pred']:>3}/{r['n_gt']:<3} mIoU {r['mIoU']:.3f} "
                  f"RMSE {r['rmse_pct']:.3f}% {r['seconds']:.1f}s", flush=True)
    if not rows:
        print("no clips evaluated")
        return 1
    print()
    hdr = "| asset | clip | frames | V | GT parts (raw) | pred parts | mIoU | ARI | F1 | mAcc | raw mIoU | rigid RMSE % | RMSE % diag | s |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for r in rows:
        print(f"| {r['asset']} | {r['clip']} | {r['frames']} | {r['V']} | {r['n_gt']} ({r['n_gt_raw']}) | {r['n_pred']} | "
              f"{r['mIoU']:.3f} | {r['ARI']:.3f} | {r['F1']:.3f} | {r['mAcc']:.3f} | {r['raw_mIoU']:.3f} | "
              f"{r['rigid_rmse_pct']:.3f} | {r['rmse_pct']:.3f} | {r['seconds']:.1f} |")
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("mIoU", "ARI", "F1", "mAcc", "raw_mIoU", "rmse_pct",
                                                                 "rigid_rmse_pct", "seconds")}
    print(f"| **mean** ({len(rows)} clips, {len({r['asset'] for r in rows})} assets) | | | | | | {mean['mIoU']:.3f} | "
          f"{mean['ARI']:.3f} | {mean['F1']:.3f} | {mean['mAcc']:.3f} | {mean['raw_mIoU']:.3f} | "
          f"{mean['rigid_rmse_pct']:.3f} | {mean['rmse_pct']:.3f} | {mean['seconds']:.1f} |")
    print("SP4D (from images, Table 1): mIoU 0.68  ARI 0.60  F1 0.70  mAcc 0.74")
    if args.oracle:
        print()
        print("Diagnostic (not a method): 'oracle' = the true bones with rigid motions fitted to their vertices, merged "
              "by the ground truth's SP4D rule")
        print("| asset | clip | GT parts | ours: parts / mIoU | oracle: parts / mIoU |")
        print("|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['asset']} | {r['clip']} | {r['n_gt']} | {r['n_pred']} / {r['mIoU']:.3f} | "
                  f"{r['n_oracle']} / {r['oracle_mIoU']:.3f} |")
        mean["oracle_mIoU"] = float(np.mean([r["oracle_mIoU"] for r in rows]))
        print(f"| **mean** | | | {mean['mIoU']:.3f} | {mean['oracle_mIoU']:.3f} |")
    if args.json:
        from ..util.atomic import atomic_write_text
        atomic_write_text(args.json, json.dumps({"rows": rows, "mean": mean}, indent=1))
    return 0
