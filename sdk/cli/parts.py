"""``articulate parts INPUT -o OUTDIR``: kinematic part maps (SP4D) and lifted per-vertex part labels of a mesh.

The mesh is normalised and rendered from orbit views with the project's renderer; the small SP4D model
(shipped weights) generates the part branch for those views with the RGB branch held at the renders;
back-mapping turns the colour encodings into part maps consistent across views; lifting votes them onto
the vertices. ``--method colour`` skips the model (colour clustering of the renders).

Writes: part_maps.npz (labels [N,H,W], encodings [N,H,W,3], rgb [N,H,W,3]), preview.png,
vertex_labels.npy ([V] int64) and vertex_labels.json.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser("parts", help="kinematic part maps and per-vertex part labels of a mesh (SP4D)",
                       description=__doc__)
    p.add_argument("input", help="mesh file (obj, glb, ply, ...)")
    p.add_argument("-o", "--out", required=True, help="output folder")
    p.add_argument("--method", choices=["sp4d", "colour"], default="colour",
                   help="colour: clustering of the renders (default; better than the shipped small SP4D, see "
                        "docs/models.md); sp4d: the learned part branch")
    p.add_argument("--weights", default=None, help="SP4D .safetensors (default: sp4d_small from the registry)")
    p.add_argument("--steps", type=int, default=12, help="sampler steps")
    p.add_argument("--passes", type=int, default=2, help="orbit passes (each adds 4 views, rotated 45 deg)")
    p.add_argument("--sam-checkpoint", default=None, help="SAM checkpoint for back-mapping (default: colour fallback)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (--method sp4d)")
    p.add_argument("--device", default=None, help="torch device for --method sp4d (cpu, cuda, cuda:N)")
    p.set_defaults(func=run, inputs={"input": "asset"},
                   flags={"--steps": "int>=1", "--passes": "int>=1"})


def _load_mesh(path: str):
    """(vertices [V,3] float64, faces [F,3] int64) via sdk.io when available, else trimesh."""
    from ..errors import AssetReadError
    from ._common import check_path
    check_path(path, "asset")
    try:
        from ..io import load_asset
    except ImportError:
        load_asset = None
    if load_asset is not None:
        a = load_asset(path)
        mesh = a.mesh.validate(str(path))  # a NaN vertex is named with the file and the vertex index
        return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)
    import trimesh
    try:
        m = trimesh.load(path, force="mesh")
    except Exception as e:  # trimesh raises many types
        raise AssetReadError(path, f"cannot read mesh: {e}") from e
    return np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64)


def predict_parts(*args, **kw) -> dict:
    """``sdk.models.sp4d.pipeline.predict_parts`` (the library home; kept importable here)."""
    from ..models.sp4d.pipeline import predict_parts as _predict
    return _predict(*args, **kw)


def run(args) -> int:
    from ..util.atomic import atomic_path, atomic_write_text
    from ..util.progress import cli_bar
    from ..errors import InvalidInputError
    out = Path(args.out)
    if out.exists() and not out.is_dir():  # before the work: -o names the output folder
        raise InvalidInputError(f"output {out} is a file; -o names a folder for part_maps.npz, vertex_labels.npy, "
                                f"preview.png", field="out")
    if args.weights is not None and not Path(args.weights).is_file():
        from ..errors import is_a_directory, no_such_file
        w = Path(args.weights)
        raise is_a_directory(w, "an SP4D weights file (--weights)") if w.is_dir() else no_such_file(
            w, "SP4D weights file (--weights)")
    v, f = _load_mesh(args.input)
    with cli_bar("parts") as progress:
        res = predict_parts(v, f, args.method, args.weights, args.steps, args.passes, args.sam_checkpoint,
                            args.seed, args.device, progress=progress)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "part_maps.npz") as tmp:
        np.savez_compressed(tmp, labels=res["part_maps"], encodings=res["enc"].astype(np.float32),
                            rgb=res["rgb"].astype(np.float32))
    with atomic_path(out / "vertex_labels.npy") as tmp:
        np.save(tmp, res["labels"])
    counts = np.bincount(res["labels"]).tolist()
    atomic_write_text(out / "vertex_labels.json", json.dumps({
        "input": str(args.input), "method": args.method, "num_vertices": int(len(v)),
        "num_parts": int(len(np.unique(res["labels"]))), "vertices_per_part": counts,
        "mean_vote_confidence": float(res["confidence"].mean()), "labels": res["labels"].tolist()}))
    from ..render.preview import write_parts_preview
    write_parts_preview(res, out / "preview.png")
    print(f"{len(np.unique(res['labels']))} parts on {len(v)} vertices -> {out}")
    return 0
