"""Table (C) of issue 15: the small learned ATOP model + SDS + OBB search, against (A) and (B) on the same parts.

    python -m sdk.evaluation.joints_learned --data DATA --results RESULTS [--kinds free,rigid] [--json OUT.json]

DATA holds ``bench/bench_atop_data.py``'s eval.npz (held-out procedural props, seeds 1000..; never trained on) and
optionally shared.npz (the shared articulated objects' parts: zero-shot); RESULTS holds the GPU run's
clouds.npz / metrics.json (``bench/bench_atop_train.py``). For every evaluated part:

* **(C)** the SDS clouds of frames ``Nf/2`` and ``Nf`` (back in object coordinates) are the articulated states of
  ``axis_search.atop_search`` (ATOP §4.3.2, the 7 x 6 OBB candidates), with the rest part points, the body points
  and the part's mesh vertices for the OBB, as in ``joints.py``'s table B;
* **(A)** the weight-free pipeline (``articulate_object``, prompts from the part names) on the same object, the
  same part;
* **(B)** the search on the true moved clouds (50 % / 100 % of the reference amount), the same part.

Scores are ``joints.score``: axis error in degrees (sign-insensitive), origin line distance over the object's
diagonal (revolute only), type accuracy.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .joints import _GT, _fmt, _mean, score


def _states(dyn: np.ndarray, static: np.ndarray, frames, center, scale, rotation=None) -> list[np.ndarray]:
    """Whole-object states (body + the part at frame f) in object coordinates. dyn: [Nf, n, 3] the dynamic
    points per frame (normalized frame, as ``bench_atop_train.py`` stores them); static: [m, 3] the pack's static
    points (normalized)."""
    from ..models.atop.transfer import to_object_frame
    st = np.asarray(static, np.float64)[: dyn.shape[1]]
    return [to_object_frame(np.vstack([st, dyn[f].astype(np.float64)]), center, scale, rotation) for f in frames]


def _true_states(P_faces_mesh, gt, diag, rng):
    """Table B's ground-truth articulated clouds for one part (moved to 50 % / 100 % of the reference amount)."""
    from ..articulation.axis_search import move_part
    mesh, fm = P_faces_mesh
    from ..articulation.articulate import _sample_faces
    B = _sample_faces(mesh, ~fm, 3072, rng)
    from .joints import reference_amount
    ref = reference_amount(gt, diag)
    typ = "revolute" if gt.type == "continuous" else gt.type
    return B, [np.vstack([B, move_part(_sample_faces(mesh, fm, 1024, rng), typ, gt.origin, gt.axis, f * ref)])
               for f in (0.5, 1.0)]


def evaluate_procedural(ev: dict, clouds: dict, kinds, *, run_a: bool = True, run_b: bool = True,
                        frames=None, log=print) -> list[dict]:
    import warnings
    from ..articulation.articulate import ArticulateConfig, _sample_faces, articulate_object
    from ..articulation.axis_search import atop_search
    from ..procedural.props import generate_prop, prop_prompts, to_core
    from ..models.atop.dataset import _subtree

    class _Asset:
        def __init__(self, mesh, parts):
            self.mesh, self.parts, self.path = mesh, parts, None

    rows, a_cache = [], {}
    for i in range(len(ev["prompt"])):
        name, part_name, cat = str(ev["object"][i]), str(ev["part"][i]), str(ev["category"][i])
        obj = generate_prop(cat, int(name.rsplit("_", 1)[1]))
        pi = [p.name for p in obj.parts].index(part_name)
        gt = _GT(obj.parts[pi])
        mesh, parts = to_core(obj)
        diag = mesh.bbox_diagonal
        pm = obj.mesh()
        fm = np.isin(pm.face_part, _subtree(obj, pi))
        vpts = pm.vertices[np.unique(pm.faces[fm])]
        center, scale = ev["center"][i], float(ev["scale"][i])
        from ..models.atop.transfer import to_object_frame
        P = to_object_frame(ev["dynamic"][i][:512].astype(np.float64), center, scale)
        Bst = to_object_frame(ev["static"][i][:2048].astype(np.float64), center, scale)
        base = dict(object=name, category=cat, part=part_name, gt_type=gt.type)
        for kind in kinds:
            key = f"{kind}/{i}"
            if key not in clouds:
                continue
            cl = clouds[key]
            nf = cl.shape[0]
            fr = frames or (nf // 2, nf - 1)
            e = atop_search(P, _states(cl, ev["static"][i], fr, center, scale), Bst, obb_points=vpts)
            r = score(e.type, e.origin, e.axis, gt, diag)
            rows.append(dict(base, method=f"C-{kind}", pred_type=e.type, **r))
        if run_b:
            rng = np.random.default_rng(0)
            P2 = _sample_faces(mesh, fm, 384, rng)
            B2, states = _true_states((mesh, fm), gt, diag, rng)
            e = atop_search(P2, states, B2, obb_points=vpts)
            rows.append(dict(base, method="B", pred_type=e.type, **score(e.type, e.origin, e.axis, gt, diag)))
        if run_a:
            if name not in a_cache:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    names = [str(ev["part"][k]) for k in range(len(ev["prompt"])) if str(ev["object"][k]) == name]
                    art = articulate_object(_Asset(mesh, parts), prop_prompts(obj), only=names, progress=False,
                                            config=ArticulateConfig(up_axis="y"))
                a_cache[name] = {j.child: j for j in art.joints}
            j = a_cache[name].get(part_name)
            if j is None:
                rows.append(dict(base, method="A", pred_type="none", axis_err=np.nan, origin_err=np.nan, type_ok=False))
            else:
                rows.append(dict(base, method="A", pred_type=j.type, **score(j.type, j.origin, j.axis, gt, diag)))
        log(f"  {name}/{part_name}: " + ", ".join(
            f"{r['method']} {r['axis_err']:.1f}deg {r['pred_type']}" for r in rows if r["object"] == name
            and r["part"] == part_name))
    return rows


def evaluate_shared(sh: dict, clouds: dict, data_dir: Path, *, run_a: bool = True, log=print) -> list[dict]:
    """Zero-shot: the base model's SDS clouds of the shared objects' parts -> the search; (A) on the same parts."""
    import warnings
    from ..articulation.articulate import ArticulateConfig, _face_labels, articulate_object
    from ..articulation.axis_search import atop_search
    from ..models.atop.transfer import to_object_frame
    from .joints import _gt_subtree, find_objects, load_object, semantic_prompts
    paths = dict(find_objects(data_dir))
    rows = []
    by_obj = {}
    for i in range(len(sh["prompt"])):
        by_obj.setdefault(str(sh["object"][i]), []).append(i)
    for name, idx in by_obj.items():
        asset = load_object(paths[name])
        mesh, parts = asset.mesh, asset.parts
        diag = mesh.bbox_diagonal
        fl = _face_labels(mesh, parts)
        art_a = None
        if run_a:
            prompts = semantic_prompts(asset, paths[name])
            only = [str(sh["part"][i]) for i in idx]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                art_a = {j.child: j for j in articulate_object(asset, {p: prompts[p] for p in only}, only=only,
                                                               progress=False, config=ArticulateConfig()).joints}
        for i in idx:
            p = str(sh["part"][i])
            key = f"shared/{i}"
            ids = [parts.names.index(s) for s in _gt_subtree(asset, p)]
            fm = np.isin(fl, ids)
            vpts = mesh.vertices[np.unique(mesh.faces[fm])]
            c, s, R = sh["center"][i], float(sh["scale"][i]), sh["rotation"][i]
            base = dict(object=name, category="shared", part=p)

            def best(typ, o, a):
                cands = [score(typ, o, a, g, diag) for g in asset.gt_joints[p]]
                return cands[min(range(len(cands)), key=lambda k: (not cands[k]["type_ok"], cands[k]["axis_err"]))]
            if key in clouds:
                cl = clouds[key]
                nf = cl.shape[0]
                P = to_object_frame(sh["dynamic"][i][:512].astype(np.float64), c, s, R)
                Bst = to_object_frame(sh["static"][i][:2048].astype(np.float64), c, s, R)
                e = atop_search(P, _states(cl, sh["static"][i], (nf // 2, nf - 1), c, s, R), Bst, obb_points=vpts)
                rows.append(dict(base, method="C-free", pred_type=e.type, **best(e.type, e.origin, e.axis)))
            if art_a is not None:
                j = art_a.get(p)
                if j is None:
                    rows.append(dict(base, method="A", pred_type="none", axis_err=np.nan, origin_err=np.nan,
                                     type_ok=False))
                else:
                    rows.append(dict(base, method="A", pred_type=j.type, **best(j.type, j.origin, j.axis)))
        log(f"  {name}: {len(idx)} parts")
    return rows


def summarize(rows: list[dict], methods, group: str = "category") -> list[dict]:
    out = []
    for g in list(dict.fromkeys(r[group] for r in rows)) + ["mean"]:
        for m in methods:
            rs = [r for r in rows if r["method"] == m and (g == "mean" or r[group] == g)]
            if rs:
                out.append({group: g, "method": m, "parts": len(rs), "MAE_deg": _mean([r["axis_err"] for r in rs]),
                            "MPE_diag": _mean([r["origin_err"] for r in rs]),
                            "type_acc": float(np.mean([bool(r["type_ok"]) for r in rs]))})
    return out


def print_table(summary: list[dict], methods, title: str, group: str = "category") -> None:
    labels = {"A": "(A) weight-free", "B": "(B) search, true clouds", "C-free": "(C) learned + SDS free + search",
              "C-rigid": "(C') learned + SDS rigid + search", "C-oracle-free": "(C*) true video + SDS free + search",
              "C-oracle-rigid": "(C*) true video + SDS rigid + search"}
    print(f"\n{title}")
    print(f"| {group} | " + " | ".join(f"{labels.get(m, m)} MAE / MPE / type" for m in methods) + " |")
    print("|---|" + "---|" * len(methods))
    for g in list(dict.fromkeys(s[group] for s in summary)):
        cells = []
        for m in methods:
            s = next((x for x in summary if x[group] == g and x["method"] == m), None)
            cells.append("-" if s is None else f"{_fmt(s['MAE_deg'])} / {_fmt(s['MPE_diag'], 3)} / {s['type_acc']:.2f}")
        print(f"| {'**mean**' if g == 'mean' else g} | " + " | ".join(cells) + " |")


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--kinds", default="free,rigid")
    ap.add_argument("--json", default=None)
    ap.add_argument("--skip-a", action="store_true")
    ap.add_argument("--skip-shared", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="evaluate the first N held-out parts only (0 = all)")
    a = ap.parse_args(argv)
    from ..models.atop.dataset import load_dataset
    data, res = Path(a.data), Path(a.results)
    ev = load_dataset(data / "eval.npz")
    if a.limit:
        ev = {k: v[: a.limit] for k, v in ev.items()}
    with np.load(res / "clouds.npz") as z:
        clouds = {k: z[k] for k in z.files}
    kinds = [k for k in a.kinds.split(",") if k]
    t0 = time.time()
    rows = evaluate_procedural(ev, clouds, kinds, run_a=not a.skip_a)
    methods = [m for m in ["A", "B"] + [f"C-{k}" for k in kinds] if any(r["method"] == m for r in rows)]
    summ = summarize(rows, methods)
    print_table(summ, methods, f"Held-out procedural props ({len(ev['prompt'])} parts, seeds 1000.., never trained on): "
                "axis MAE (deg) / MPE (diag) / type accuracy")
    out = {"procedural": {"rows": rows, "summary": summ}}
    if not a.skip_shared and (data / "shared.npz").exists() and any(k.startswith("shared/") for k in clouds):
        sh = load_dataset(data / "shared.npz")
        srows = evaluate_shared(sh, clouds, Path(__file__).resolve().parents[2].parent / "shared" / "data" /
                                "articulated", run_a=not a.skip_a)
        sm = [m for m in ("A", "C-free") if any(r["method"] == m for r in srows)]
        ssum = summarize(srows, sm, group="object")
        print_table(ssum, sm, "Shared articulated objects, zero-shot (the base model, no personalization)", "object")
        out["shared"] = {"rows": srows, "summary": ssum}
    if (res / "metrics.json").exists():
        out["gpu_metrics"] = json.loads((res / "metrics.json").read_text())
    print(f"\n{time.time() - t0:.0f}s")
    if a.json:
        from ..util.atomic import atomic_path
        with atomic_path(a.json) as tmp:
            Path(tmp).write_text(json.dumps(out, indent=1, default=lambda x: x.item() if hasattr(x, "item") else str(x)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
