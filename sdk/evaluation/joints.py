"""Joint estimation against URDF/MJCF ground truth (ATOP's metrics), two tables.

Table A — the full weight-free pipeline: input = rest-pose geometry with links as parts (links joined by fixed
joints merged) and the joints hidden; prompts from the part's semantic label where the dataset has one
(PartNet-Mobility ``semantics.txt``: rotation_door -> "open the door"), else from the link name
("drawer_link" -> "pull out the drawer"); ``articulate_object`` infers the kinematic tree, the physics prior
scores hypotheses and synthesizes articulated states, ATOP's OBB search reads them.

Table B — ATOP's search alone: the articulated point cloud is ground truth (the part and its descendants
moved by the true joint to 50% and 100% of a reference amount; the reference is the larger-magnitude limit,
capped at 90 deg / half the object diagonal; continuous joints 45/90 deg), so this checks the search
itself. Direct continuous optimization (ATOP Table 4's alternative) runs on the same states for the first
``--direct-per-object`` joints of each object.

Metrics (ATOP §5.3): axis angle error in degrees, sign-insensitive (arccos |a.b|); origin error for revolute /
continuous ground truth as the distance between the two axis lines (skew lines: |(o2-o1).n|/|n|; parallel
lines: the perpendicular distance, not zero), in units of the object's bounding-box diagonal; type accuracy
(continuous counts as revolute). ATOP Table 1 (PartNet-Mobility, diffusion prior) reports MAE 2.63 deg and
MPE 0.11; their MPE is "euclidean distance between joint origins" on normalized objects, so the numbers are
comparable in spirit, not in protocol.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

ATOP_TABLE1 = {"MAE": 2.63, "MPE": 0.11}
ATOP_TABLE4 = {"direct": (1.57, 0.11), "algo": (0.98, 0.07)}


def add_arguments(p):
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "articulated"),
                   help="folder with the articulated objects (default ../shared/data/articulated)")
    p.add_argument("--max-joints", type=int, default=4,
                   help="evaluate at most this many movable joints per object (0 = all; sapien_7619 alone has 115)")
    p.add_argument("--direct-per-object", type=int, default=1, help="joints per object also run with direct optimization "
                                                                    "in table B (0 = none)")
    p.add_argument("--only", default=None, help="substring filter on object names")
    p.add_argument("--skip-pipeline", action="store_true", help="only table B")
    p.add_argument("--skip-search", action="store_true", help="only table A")
    p.add_argument("--prompts", choices=["both", "with", "without"], default="both",
                   help="table A with prompts (from the dataset's labels), without any prompt (rest geometry alone), "
                        "or both, one section each (default both)")
    p.add_argument("--no-prompts", action="store_true", help="same as --prompts without")
    p.add_argument("--procedural", type=int, default=0, metavar="N",
                   help="instead of the shared objects: N seeds per procedural prop category (sdk.procedural.props; "
                        "seeds 1000.. are held out from any training)")


def find_objects(data: Path) -> list[tuple[str, Path]]:
    objs = []
    for f in sorted(data.glob("*/mobility.urdf")):
        objs.append((f.parent.name, f))
    for f in sorted(data.glob("*/*/urdf/*.urdf")):
        objs.append((f"{f.parts[-4]}/{f.stem}", f))
    for f in sorted(data.glob("metaworld_objects/objects/*.xml")):
        objs.append((f"metaworld/{f.stem}", f))
    return objs


def load_object(path: Path):
    from ..io import load_asset
    return load_asset(path)


def semantic_prompts(asset, path: Path) -> dict:
    from ..articulation.prompt import prompt_from_label
    labels = {}
    sem = path.parent / "semantics.txt"
    if sem.exists():
        for line in sem.read_text().splitlines():
            t = line.split()
            if len(t) >= 3:
                labels[t[0]] = t[2]
    out = {}
    for part, links in asset.part_links.items():
        lab = next((labels[l] for l in [part, *links] if l in labels), None)
        out[part] = prompt_from_label(lab or part)
    return out


def axis_error(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    c = abs(float(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b))))
    return float(np.rad2deg(np.arccos(np.clip(c, 0.0, 1.0))))


def line_distance(o1, d1, o2, d2) -> float:
    """Distance between two 3D lines; parallel lines give their perpendicular separation."""
    o1, d1, o2, d2 = (np.asarray(x, float) for x in (o1, d1, o2, d2))
    d1, d2 = d1 / np.linalg.norm(d1), d2 / np.linalg.norm(d2)
    n = np.cross(d1, d2)
    w = o2 - o1
    if np.linalg.norm(n) < 1e-6:
        return float(np.linalg.norm(w - np.dot(w, d1) * d1))
    return float(abs(np.dot(w, n)) / np.linalg.norm(n))


def _kind(t: str) -> str:
    return "revolute" if t in ("revolute", "continuous") else t


def limit_iou(pred_type, pred_axis, lower, upper, gt, diag) -> float:
    """Overlap / union of the predicted and true motion ranges, the predicted range flipped when its axis points
    the other way; continuous joints count as the full turn. NaN unless the type matches and the axis is within
    10 deg (a range about another axis is not comparable)."""
    if _kind(pred_type) != _kind(gt.type) or axis_error(pred_axis, gt.axis) > 10:
        return float("nan")
    def rng(t, lo, hi):
        return (-np.pi, np.pi) if t == "continuous" else (float(lo), float(hi))
    lo, hi = rng(pred_type, lower, upper)
    if float(np.dot(pred_axis, gt.axis)) < 0 and pred_type != "continuous":
        lo, hi = -hi, -lo
    glo, ghi = rng(gt.type, gt.lower, gt.upper)
    inter = max(0.0, min(hi, ghi) - max(lo, glo))
    union = max(hi, ghi) - min(lo, glo)
    return float(inter / union) if union > 1e-12 else float("nan")


def range_error(pred_type, pred_axis, lower, upper, gt) -> tuple[float, float]:
    """(revolute range error in degrees, prismatic range error in the asset's length units): |pred range - true
    range| with range = upper - lower (a continuous joint: 360 deg), e.g. 180 deg predicted vs 90 deg true = 90.
    NaN unless the type matches and the axis is within 10 deg."""
    nan = float("nan")
    if lower is None or _kind(pred_type) != _kind(gt.type) or axis_error(pred_axis, gt.axis) > 10:
        return nan, nan
    def span(t, lo, hi):
        return 2 * np.pi if t == "continuous" else float(hi) - float(lo)
    d = abs(span(pred_type, lower, upper) - span(gt.type, gt.lower, gt.upper))
    return (float(np.rad2deg(d)), nan) if _kind(gt.type) == "revolute" else (nan, float(d))


def reference_amount(gt, diag: float) -> float:
    """Table B's motion amount for a true joint: its larger limit, capped at 90 deg / half the diagonal (a
    continuous joint: 90 deg; a zero range: 0.1 rad / 5 % of the diagonal)."""
    if gt.type == "continuous":
        return np.pi / 2
    ref = gt.upper if abs(gt.upper) >= abs(gt.lower) else gt.lower
    cap = np.pi / 2 if gt.type == "revolute" else 0.5 * diag
    ref = float(np.clip(ref, -cap, cap))
    if abs(ref) < 1e-9:
        ref = 0.1 if gt.type == "revolute" else 0.05 * diag
    return ref


def score(pred_type, pred_origin, pred_axis, gt, diag, lower=None, upper=None) -> dict:
    r = {"axis_err": axis_error(pred_axis, gt.axis), "type_ok": _kind(pred_type) == _kind(gt.type)}
    r["origin_err"] = (line_distance(pred_origin, pred_axis, gt.origin, gt.axis) / diag
                       if _kind(gt.type) == "revolute" else np.nan)
    r["limit_iou"] = limit_iou(pred_type, pred_axis, lower, upper, gt, diag) if lower is not None else np.nan
    r["range_err_deg"], r["range_err_m"] = range_error(pred_type, pred_axis, lower, upper, gt)
    return r


def _gt_subtree(asset, part):
    """Parts moved by ``part``'s joint: the part and its ground-truth descendants."""
    kids = {}
    for p, par in asset.gt_parent.items():
        if par is not None:
            kids.setdefault(par, []).append(p)
    out, stack = [], [part]
    while stack:
        n = stack.pop()
        out.append(n)
        stack += kids.get(n, [])
    return out


def _mean(xs):
    xs = [x for x in xs if x is not None and np.isfinite(x)]
    return float(np.mean(xs)) if xs else float("nan")


def _fmt(x, nd=2):
    return "  -  " if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


class _GT:
    def __init__(self, part):
        self.type, self.origin, self.axis = part.joint, np.asarray(part.pivot, float), np.asarray(part.axis, float)
        self.lower, self.upper = part.limits


def run_procedural(args) -> int:
    """Table A on procedural props: every movable part of N held-out objects per category."""
    import warnings
    from ..articulation.articulate import ArticulateConfig, articulate_object
    from ..errors import ArticulationWarning
    from ..procedural.props import PROP_CATEGORIES, generate_prop, prop_prompts, to_core

    class _Asset:
        def __init__(self, mesh, parts):
            self.mesh, self.parts, self.path = mesh, parts, None

    rows, t0 = [], time.time()
    for cat in PROP_CATEGORIES:
        for k in range(args.procedural):
            obj = generate_prop(cat, 1000 + k)
            mesh, parts = to_core(obj)
            prompts = {} if args.prompts == "without" else prop_prompts(obj)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                art = articulate_object(_Asset(mesh, parts), prompts, progress=False, config=ArticulateConfig(up_axis="y"))
            nw = sum(1 for w in caught if issubclass(w.category, ArticulationWarning))
            pred = {j.child: j for j in art.joints}
            for i, part in enumerate(obj.parts):
                if part.joint == "fixed":
                    continue
                j = pred.get(part.name)
                gt = _GT(part)
                if j is None:
                    rows.append(dict(object=cat, axis_err=np.nan, origin_err=np.nan, type_ok=False, limit_iou=np.nan,
                                     empty=True, warn=nw))
                    continue
                r = score(j.type, j.origin, j.axis, gt, mesh.bbox_diagonal, j.lower, j.upper)
                r.update(object=cat, empty=j.type == "fixed", warn=nw,
                         parent_ok=j.parent == obj.parts[part.parent].name)
                rows.append(r)
    print(f"Table A - procedural props, weight-free pipeline, {args.procedural} held-out objects per category, "
          + ("NO prompts" if args.prompts == "without" else "prompts from part names"))
    print(f"{'category':14s} {'joints':>6s} {'MAE(deg)':>9s} {'MPE(diag)':>9s} {'type acc':>8s} {'lim IoU':>7s} {'empty':>5s}")
    for cat in PROP_CATEGORIES:
        rs = [r for r in rows if r["object"] == cat]
        print(f"{cat:14s} {len(rs):6d} {_fmt(_mean([r['axis_err'] for r in rs])):>9s} "
              f"{_fmt(_mean([r['origin_err'] for r in rs]), 3):>9s} {np.mean([r['type_ok'] for r in rs]):8.2f} "
              f"{_fmt(_mean([r['limit_iou'] for r in rs])):>7s} {sum(r['empty'] for r in rs):5d}")
    print(f"{'mean':14s} {len(rows):6d} {_fmt(_mean([r['axis_err'] for r in rows])):>9s} "
          f"{_fmt(_mean([r['origin_err'] for r in rows]), 3):>9s} {np.mean([r['type_ok'] for r in rows]):8.2f} "
          f"{_fmt(_mean([r['limit_iou'] for r in rows])):>7s} {sum(r['empty'] for r in rows):5d}")
    pa = [r["parent_ok"] for r in rows if "parent_ok" in r]
    print(f"parent correct {np.mean(pa):.2f}; {time.time() - t0:.0f}s")
    return 0


def run(args) -> int:
    if args.no_prompts:
        args.prompts = "without"
    if args.procedural:
        return run_procedural(args)
    from ..articulation.articulate import ArticulateConfig, articulate_object, _face_labels, _sample_faces
    from ..articulation.axis_search import atop_search, direct_optimization, move_part
    data = Path(args.data)
    if not data.exists():
        from ..errors import AssetReadError
        raise AssetReadError(data, "articulated data folder not found (pass --data)")
    objs = find_objects(data)
    if args.only:
        objs = [o for o in objs if args.only in o[0]]
    modes = [] if args.skip_pipeline else {"both": ["with", "without"], "with": ["with"],
                                           "without": ["without"]}[args.prompts]
    rows_a = {m: [] for m in modes}
    stats = {m: {"fixed": 0, "warn": 0} for m in modes}
    rows_b = []
    from ..errors import ArticulationWarning
    t_start = time.time()
    for name, path in objs:
        t0 = time.time()
        asset = load_object(path)
        mesh, parts = asset.mesh, asset.parts
        diag = mesh.bbox_diagonal
        movable = [p for p in parts.names if asset.gt_joints.get(p)]
        n_all = len(movable)
        if args.max_joints and len(movable) > args.max_joints:
            movable = movable[: args.max_joints]
        prompts = semantic_prompts(asset, path)
        # ---- table A: full pipeline, with and/or without prompts
        for mode in modes:
            given = {p: prompts[p] for p in movable} if mode == "with" else {}
            import warnings
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                art = articulate_object(asset, given, only=movable, progress=False, config=ArticulateConfig())
            stats[mode]["warn"] += sum(1 for w in caught if issubclass(w.category, ArticulationWarning))
            pred = {j.child: j for j in art.joints}
            for p in movable:
                j = pred.get(p)
                if j is None:  # the tree inference made this part the root (object without body geometry)
                    for gt in asset.gt_joints[p][-1:]:  # one row per part
                        rows_a[mode].append(dict(object=name, part=p, prompt=given.get(p, ""), gt_type=gt.type,
                                                 pred_type="root", confidence=0.0, parent_ok=False, axis_err=np.nan,
                                                 origin_err=np.nan, type_ok=False, limit_iou=np.nan,
                                                 range_err_deg=np.nan, range_err_m=np.nan))
                    continue
                if j.type == "fixed":
                    stats[mode]["fixed"] += 1
                # one predicted joint per part: a part with two true joints (a screw cap: lift + spin) is scored
                # against the one the prediction matches best (type first, then axis)
                cands = [score(j.type, j.origin, j.axis, g, diag, j.lower, j.upper) for g in asset.gt_joints[p]]
                k_best = min(range(len(cands)), key=lambda i: (not cands[i]["type_ok"], cands[i]["axis_err"]))
                for gt, r in [(asset.gt_joints[p][k_best], cands[k_best])]:
                    r.update(object=name, part=p, prompt=given.get(p, ""), gt_type=gt.type, pred_type=j.type,
                             confidence=j.confidence, parent_ok=art_parent_ok(j.parent, asset.gt_parent.get(p)))
                    rows_a[mode].append(r)
        # ---- table B: ATOP search alone on ground-truth articulated clouds
        rng = np.random.default_rng(0)
        fl = _face_labels(mesh, parts)
        for k, p in enumerate([] if args.skip_search else movable):
            gt = asset.gt_joints[p][-1]  # the joint nearest the part (a screw cap: the spin)
            ids = [parts.names.index(s) for s in _gt_subtree(asset, p)]
            fm = np.isin(fl, ids)
            P = _sample_faces(mesh, fm, 384, rng)
            B = _sample_faces(mesh, ~fm, 3072, rng)
            ref = reference_amount(gt, diag)
            typ = "revolute" if gt.type == "continuous" else gt.type
            states = [np.vstack([B, move_part(_sample_faces(mesh, fm, 1024, rng), typ, gt.origin, gt.axis, f * ref)])
                      for f in (0.5, 1.0)]
            vpts = mesh.vertices[np.unique(mesh.faces[fm])]
            e = atop_search(P, states, B, obb_points=vpts)
            r = score(e.type, e.origin, e.axis, gt, diag)
            r.update(object=name, part=p, method="algo")
            rows_b.append(r)
            if k < args.direct_per_object:
                e2 = direct_optimization(P, states, B, obb_points=vpts, iters=80)
                r2 = score(e2.type, e2.origin, e2.axis, gt, diag)
                r2.update(object=name, part=p, method="direct")
                rows_b.append(r2)
        print(f"  {name}: {len(movable)}/{n_all} joints, {time.time() - t0:.1f}s", flush=True)

    def table(rows, title, ref, limits=True):
        """One markdown table (rows per object, two means, the paper's reference row); (MAE, MPE, type acc)."""
        cols = ["object", "joints", "MAE (deg)", "MPE (diag)", "type acc"] + (
            ["lim IoU", "range err (deg)", "range err (m)"] if limits else [])
        print()
        print(title)
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))

        def row(label, rs, n=None):
            cells = [label, str(len(rs) if n is None else n), _fmt(_mean([r["axis_err"] for r in rs])),
                     _fmt(_mean([r["origin_err"] for r in rs]), 3), f"{np.mean([r['type_ok'] for r in rs]):.2f}"]
            if limits:
                cells += [_fmt(_mean([r.get("limit_iou") for r in rs])),
                          _fmt(_mean([r.get("range_err_deg") for r in rs]), 1),
                          _fmt(_mean([r.get("range_err_m") for r in rs]), 3)]
            print("| " + " | ".join(c.strip() or "-" for c in cells) + " |")
        objs_ = list(dict.fromkeys(r["object"] for r in rows))
        for o in objs_:
            row(o, [r for r in rows if r["object"] == o])
        row("**mean over joints**", rows)
        per_obj = [[r for r in rows if r["object"] == o] for o in objs_]
        cells = ["mean over objects", str(len(objs_)), _fmt(_mean([_mean([r["axis_err"] for r in rs]) for rs in per_obj])),
                 _fmt(_mean([_mean([r["origin_err"] for r in rs]) for rs in per_obj]), 3),
                 _fmt(_mean([float(np.mean([r["type_ok"] for r in rs])) for rs in per_obj]))]
        print("| " + " | ".join(cells + ["-"] * (len(cols) - len(cells))) + " |")
        label, rmae, rmpe = ref
        print("| " + " | ".join([label, "-", f"{rmae:.2f}", f"{rmpe:.3f}"] + ["-"] * (len(cols) - 4)) + " |")
        mae = _mean([r["axis_err"] for r in rows])
        mpe = _mean([r["origin_err"] for r in rows])
        acc = float(np.mean([r["type_ok"] for r in rows])) if rows else float("nan")
        return mae, mpe, acc

    summary = {}
    for mode in modes:
        rows = rows_a[mode]
        if not rows:
            continue
        summary[mode] = table(rows, "Table A - full weight-free pipeline (rest geometry + "
                              + ("prompts from the dataset's labels" if mode == "with" else "NO prompt")
                              + "; physics prior -> synthesized states -> ATOP search)",
                              ("ATOP Table 1 (PartNet-Mobility, diffusion prior)", ATOP_TABLE1["MAE"],
                               ATOP_TABLE1["MPE"])) + (
            _mean([r.get("limit_iou") for r in rows]), _mean([r.get("range_err_deg") for r in rows]),
            _mean([r.get("range_err_m") for r in rows]))
        failures = [r for r in rows if not r["axis_err"] <= 10 or not r["type_ok"]]
        nroot = sum(r["pred_type"] == "root" for r in rows)
        if nroot:
            print(f"{nroot} joint(s) not estimated: their part was inferred as the root body (object without body "
                  "geometry); counted as wrong type, excluded from MAE/MPE")
        if failures:
            print("worst joints (axis > 10 deg or wrong type):")
            for r in sorted(failures, key=lambda r: -np.nan_to_num(r["axis_err"], nan=99.0))[:14]:
                print(f"  {r['object']}/{r['part']} prompt '{r['prompt']}': gt {r['gt_type']} pred {r['pred_type']} "
                      f"axis {r['axis_err']:.1f} deg conf {r['confidence']:.2f}")
        print(f"empty results: {stats[mode]['fixed']} part(s) got a fixed joint (each with a warning naming the "
              f"reason), {nroot} became the root; {stats[mode]['warn']} ArticulationWarning(s) raised")
        pa = [r["parent_ok"] for r in rows if r["parent_ok"] is not None]
        if pa:
            print(f"kinematic tree: parent correct for {np.mean(pa):.2f} of evaluated parts")
    if len(summary) == 2:
        print()
        print("Table A summary - with vs without prompts (mean over joints)")
        print("| prompts | joints | MAE (deg) | MPE (diag) | type acc | lim IoU | range err (deg) | range err (m) |")
        print("|---|---|---|---|---|---|---|---|")
        for mode, (mae, mpe, acc, iou, rdeg, rm) in summary.items():
            label = "with (from the dataset's labels)" if mode == "with" else "without (rest geometry alone)"
            print(f"| {label} | {len(rows_a[mode])} | {_fmt(mae)} | {_fmt(mpe, 3)} | {acc:.2f} | {_fmt(iou)} | "
                  f"{_fmt(rdeg, 1)} | {_fmt(rm, 3)} |".replace("|   -   |", "| - |"))
    for meth, label in (("algo", "ATOP OBB search (Algo. Opt.)"), ("direct", "direct optimization (Dir. Opt.)")):
        rs = [r for r in rows_b if r["method"] == meth]
        if rs:
            ref = ATOP_TABLE4[meth]
            table(rs, f"Table B - {label} alone, ground-truth articulated clouds",
                  ("ATOP Table 4 " + ("Algo." if meth == "algo" else "Dir.") + " Opt.", ref[0], ref[1]), limits=False)
    print(f"\n{len(objs)} objects, {time.time() - t_start:.0f}s"
          + (f"; at most {args.max_joints} joints per object (--max-joints 0 for all)" if args.max_joints else ""))
    return 0


def art_parent_ok(pred_parent, gt_parent):
    if gt_parent is None:
        return None
    return pred_parent == gt_parent


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
