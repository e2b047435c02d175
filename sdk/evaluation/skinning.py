"""Skinning weights from ground-truth parts vs the ground-truth skin (L1, precision, deformation error).

For every rigged asset: parts = argmax of the true skin (SP4D App. B, ``Asset.parts_from_skin``);
``rig_from_parts`` computes weights per part; each part's weights go to the ground-truth joint
that defines it (``joint_of_part``). Metrics, averaged over vertices:

- L1: sum_j |w_ours - w_gt| per vertex (0..2).
- precision / recall (RigNet / MagicArticulate style; SP4D Table 4 reports precision 72.7): for
  each vertex, the set of joints with weight > ``--threshold`` (default 1e-4, weights taken after
  the 4-influence budget); precision = |pred ∩ gt| / |pred|, recall = |pred ∩ gt| / |gt|, in %.
- deformation error: our weights + the ground-truth joint transforms of every animation clip vs
  the ground-truth skinned vertices, mean vertex distance in % of the bbox diagonal (max over
  vertices and frames also shown). Long clips are subsampled to at most ``--max-frames`` frames
  (evenly spaced).

``hard`` is the part indicator itself (each vertex fully on its part's joint): the literal SP4D
formula and the reference any blending must beat on deformation.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

# left out by default (pass --assets to include them), with the reason printed:
DEFAULT_EXCLUDE = {
    "SimpleSkin": "10 vertices: no surface to diffuse on",
    "RecursiveSkeletons": "84 skins on copies of one 40-vertex mesh that coincide in bind pose (welding merges them)",
    "RobotExpressive": "4 skins; joint matrices only valid for their own skin's vertices (even the hard GT-argmax indicator reaches 84% bbox max error)",
}


def add_arguments(p):
    p.add_argument("--data", default="../shared/data/rigged", help="folder of rigged glTF/GLB assets")
    p.add_argument("--methods", default="hard,harmonic,pairwise,heat",
                   help="comma list of hard and the registered skinning methods (sdk.rigging.methods.SKINNING)")
    p.add_argument("--assets", default=None, help="comma list of asset folder names (default: all but SimpleSkin)")
    p.add_argument("--threshold", type=float, default=1e-4, help="weight above which a joint counts as influencing")
    p.add_argument("--max-frames", type=int, default=24, help="frames per clip (evenly subsampled)")
    p.add_argument("--max-influences", type=int, default=4)
    p.add_argument("--blend", default=None,
                   help="harmonic blend band in boundary radii, or a comma list (one 'harmonic@b' row per value; "
                        "each asset is decoded once); default: the library default")


def _files(data: Path, assets):
    out = []
    for d in sorted(p for p in data.iterdir() if p.is_dir()):
        if assets is not None and d.name not in assets:
            continue
        if assets is None and d.name in DEFAULT_EXCLUDE:
            continue
        files = sorted([*d.glob("*.glb"), *d.glob("*.gltf")])
        if files:
            out.append((d.name, files[0]))
    return out


def _sets(w: np.ndarray, thr: float) -> np.ndarray:
    return w > thr


_BLEND_METHODS = ("harmonic", "pairwise")  # methods whose band width --blend sets (SkinningMethod.uses_blend)
_ASSETS: dict = {}  # decoded assets of this run (glTF JSON decoding dominates the load time)


def _load(path):
    from ..io import load_asset
    key = str(Path(path).resolve())
    if key not in _ASSETS:
        _ASSETS[key] = load_asset(path)
    return _ASSETS[key]


def pose_dense(verts, weights, skinning):
    """LBS with dense weights as one matrix product (same result as ``linear_blend_skinning``).

    verts: [V, 3] tensor; weights: [V, J] tensor; skinning: [T, J, 4, 4] tensor. Returns [T, V, 3].
    blended[v, t] = sum_j w[v, j] M[t, j] is a [V, J] x [J, T*12] product: ~50x faster than
    gathering [T, V, k, 3, 4] blocks when every frame of a clip is posed with the same weights.
    """
    import torch
    T, J = skinning.shape[:2]
    V = verts.shape[0]
    A = skinning[:, :, :3, :].permute(1, 0, 2, 3).reshape(J, T * 12)
    blended = (weights.to(A.dtype) @ A).reshape(V, T, 3, 4)
    vh = torch.cat([verts.to(A.dtype), torch.ones(V, 1, dtype=A.dtype)], 1)
    return torch.einsum("vtab,vb->tva", blended, vh)


def evaluate_asset(path, methods=("hard", "harmonic", "pairwise", "heat"), threshold=1e-4, max_frames=24, max_influences=4,
                   blend=None):
    """Rows of metrics (dicts) for one asset."""
    import torch
    from ..core import SkinWeights
    from ..rigging import rig_from_parts
    asset = _load(path)
    gt = asset.rig
    parts = asset.parts_from_skin()
    J = gt.skeleton.n_joints
    Wgt = gt.skin.to_dense(J)
    diag = asset.mesh.bbox_diagonal
    clips = []
    for a in gt.animations:
        idx = np.unique(np.linspace(0, a.n_frames - 1, min(max_frames, a.n_frames)).round().astype(int))
        pose = a.world_matrices(gt.skeleton.parents)[idx]
        clips.append(torch.as_tensor(gt.skeleton.skinning_matrices(pose)))
    verts = torch.as_tensor(asset.mesh.vertices)
    gt_frames = [pose_dense(verts, torch.as_tensor(Wgt), m) for m in clips]
    blends = blend if isinstance(blend, (list, tuple)) else [blend]
    runs = []
    for method in methods:
        if method in _BLEND_METHODS:
            runs += [(method, b, method if len(blends) == 1 else f"{method}@{b:g}") for b in blends]
        else:
            runs.append((method, None, method))
    rows = []
    for method, b, label in runs:
        t0 = time.perf_counter()
        if method == "hard":
            dense = np.zeros_like(Wgt)
            dense[np.arange(len(dense)), parts.joint_of_part[parts.labels]] = 1.0
            skin = SkinWeights.from_dense(dense, max_influences)
            n_bones = parts.n_parts
        else:
            kw = {} if b is None else {"blend": b}
            rig = rig_from_parts(asset.mesh, parts, method=method, max_influences=max_influences, **kw)
            ours = rig.skin.to_dense(rig.skeleton.n_joints)
            dense = np.zeros_like(Wgt)
            dense[:, parts.joint_of_part[rig.joint_parts]] = ours
            skin = SkinWeights.from_dense(dense, max_influences)
            n_bones = rig.skeleton.n_joints
        secs = time.perf_counter() - t0
        W = skin.to_dense(J)
        l1 = float(np.abs(W - Wgt).sum(1).mean())
        ps, gs = _sets(W, threshold), _sets(Wgt, threshold)
        inter = (ps & gs).sum(1)
        prec = float((inter / np.maximum(ps.sum(1), 1)).mean() * 100)
        rec = float((inter / np.maximum(gs.sum(1), 1)).mean() * 100)
        errs, emax = [], 0.0
        W_t = torch.as_tensor(W)
        for m, g in zip(clips, gt_frames):
            ours_v = pose_dense(verts, W_t, m)
            e = torch.linalg.norm(ours_v - g, dim=-1)
            errs.append(e.mean().item())
            emax = max(emax, e.max().item())
        deform = 100 * float(np.mean(errs)) / diag if errs else float("nan")
        rows.append(dict(asset=Path(path).parent.name, method=label, V=asset.mesh.n_vertices, bones=n_bones,
                         clips=len(clips), frames=int(sum(len(m) for m in clips)), l1=l1, precision=prec, recall=rec,
                         deform=deform, deform_max=100 * emax / diag if errs else float("nan"), seconds=secs))
    return rows


def format_table(rows) -> str:
    head = f"{'asset':<20} {'method':<13} {'V':>6} {'bones':>5} {'frames':>6} {'L1':>6} {'prec%':>6} {'rec%':>6} {'deform%':>8} {'max%':>6} {'time s':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['asset']:<20} {r['method']:<13} {r['V']:>6} {r['bones']:>5} {r['frames']:>6} {r['l1']:>6.3f} "
                     f"{r['precision']:>6.1f} {r['recall']:>6.1f} {r['deform']:>8.3f} {r['deform_max']:>6.2f} {r['seconds']:>7.2f}")
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines.append("-" * len(head))
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        lines.append(f"{'MEAN (' + str(len(rs)) + ' assets)':<20} {m:<13} {'':>6} {'':>5} {'':>6} {np.mean([r['l1'] for r in rs]):>6.3f} "
                     f"{np.mean([r['precision'] for r in rs]):>6.1f} {np.mean([r['recall'] for r in rs]):>6.1f} "
                     f"{np.nanmean([r['deform'] for r in rs]):>8.3f} {np.nanmax([r['deform_max'] for r in rs]):>6.2f} "
                     f"{np.sum([r['seconds'] for r in rs]):>7.2f}")
    return "\n".join(lines)


def run(args) -> int:
    from ..errors import ArticulateError
    data = Path(args.data)
    if not data.is_dir():
        print(f"error: data folder {data} not found (pass --data)")
        return 2
    assets = [a.strip() for a in args.assets.split(",")] if args.assets else None
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    blend = None
    if args.blend is not None:
        try:
            blend = [float(b) for b in str(args.blend).split(",") if b.strip()]
        except ValueError:
            print(f"error: --blend must be a number or a comma list of numbers, got {args.blend!r}")
            return 2
        blend = blend[0] if len(blend) == 1 else blend
    from ..rigging.methods import SKINNING
    for m in methods:
        if m != "hard" and m not in SKINNING:
            print(f"error: unknown method '{m}' (use hard, {', '.join(SKINNING.names())})")
            return 2
    files = _files(data, assets)
    if not files:
        print(f"error: no rigged assets under {data}")
        return 2
    rows, t0 = [], time.perf_counter()
    from ..util.progress import progress
    for name, f in progress(files, desc="evaluate skinning"):
        try:
            rows.extend(evaluate_asset(f, methods, args.threshold, args.max_frames, args.max_influences, blend))
        except ArticulateError as e:
            print(f"{name}: skipped ({e})")
    if assets is None:
        for k, why in DEFAULT_EXCLUDE.items():
            print(f"(not in the default set: {k}: {why})")
    print(f"Skinning from ground-truth parts (argmax of the true skin) vs the true skin; "
          f"precision/recall: joints with weight > {args.threshold:g}; deformation over every clip, "
          f"<= {args.max_frames} evenly spaced frames per clip, % of bbox diagonal; {args.max_influences} influences.")
    print(format_table(rows))
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0
