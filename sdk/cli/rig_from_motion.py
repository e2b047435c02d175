"""``articulate rig-from-motion INPUT -o OUT.usda|.glb``: skeleton, skin and animation from a mesh sequence."""
from __future__ import annotations

import json
import time
from pathlib import Path


def register(sub):
    p = sub.add_parser("rig-from-motion", help="recover a skinned, animated rig from a mesh sequence / 4D cache")
    p.add_argument("input", help="glTF/GLB with a skinned clip, folder of OBJ/PLY frames, USD with time-sampled "
                                 "points, .npy trajectories [N,T,3] (with --mesh) or .npz (vertices [T,V,3], faces)")
    p.add_argument("-o", "--output", required=True, help="output .usda/.usdc/.usd or .glb/.gltf (or .npz)")
    p.add_argument("--clip", default=None, help="animation clip of a glTF input (default: the first; a warning names "
                                                "it and lists the others)")
    p.add_argument("--mesh", default=None, help="mesh giving faces for .npy trajectories")
    p.add_argument("--max-bones", type=int, default=None, help="at most N bones (default: automatic)")
    from ..rigging.budget import MAX_INFLUENCES
    p.add_argument("--max-influences", type=int, default=4,
                   help=f"influences per vertex, 1..{MAX_INFLUENCES} (engines: 4 or 8; default 4)")
    p.add_argument("--iterations", type=int, default=8, help="SSDR iterations")
    p.add_argument("--max-frames", type=int, default=None, help="use at most N evenly spaced frames")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate of a frames folder / .npy / .npz input (default: the file's own, else 30)")
    p.add_argument("--merge-tol", type=float, default=0.01,
                   help="SP4D bone merging threshold: mean relative displacement / bbox diagonal (default 0.01)")
    p.add_argument("--drop-nan-frames", action="store_true", help="drop frames with NaN vertices instead of failing")
    p.add_argument("--device", default=None, help="torch device (cpu, cuda)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--report", default=None, help="JSON report path (default: OUTPUT with .json)")
    p.add_argument("--no-preview", action="store_true",
                   help="do not write OUT_preview.gif (the input clip next to the recovered rig replaying it)")
    p.set_defaults(func=run, inputs={"input": "sequence", "--mesh": "asset"},
                   flags={"--max-influences": f"int1..{MAX_INFLUENCES}", "--max-bones": "int>=1",
                          "--iterations": "int>=1", "--max-frames": "int>=2", "--fps": ">0", "--merge-tol": ">=0",
                          "--threads": "int>=1"})


def run(args) -> int:
    from ..articulator import Articulator
    from ..io import formats, load_sequence
    from ..util.progress import cli_bar, sub
    from ..util.atomic import atomic_write_text
    t0 = time.perf_counter()
    out = Path(args.output)
    formats.check_output(out, "rig")
    import sys
    import warnings
    from ..errors import MotionWarning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MotionWarning)
        seq = load_sequence(args.input, clip=args.clip, mesh=args.mesh, fps=args.fps).subsample(args.max_frames)
    for w in caught:  # which clip of several was used, dropped frames, ...: one line each
        if issubclass(w.category, MotionWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    with cli_bar("rig-from-motion") as progress:
        rig = Articulator(device=args.device).rig_from_motion(
            seq, max_bones=args.max_bones, max_influences=args.max_influences, progress=sub(progress, 0.0, 0.95),
            iterations=args.iterations, merge_tol=args.merge_tol,
            nan_frames="drop" if args.drop_nan_frames else "error", threads=args.threads)
        rep = rig.metadata["report"]
        progress(0.97, "export")
        formats.save(rig, out)
    report_path = Path(args.report) if args.report else out.with_suffix(".json")
    atomic_write_text(report_path, json.dumps(rep.to_json_dict(), indent=1))
    joints = rep["joints"]
    kinds = {}
    for j in joints:
        kinds[j["type"]] = kinds.get(j["type"], 0) + 1
    preview = None
    if not args.no_preview:
        from ..render.preview import write_motion_preview
        preview = write_motion_preview(seq.vertices, seq.faces, rig, out.with_name(out.stem + "_preview.gif"),
                                       up=formats.up_axis_of(args.input) if Path(args.input).is_file() else "y",
                                       fps=float(seq.fps or 30.0))
    print(f"wrote {out} ({seq.n_frames} frames, {rig.mesh.n_vertices} vertices, {rig.skeleton.n_joints} joints "
          f"[{', '.join(f'{n} {k}' for k, n in kinds.items())}]: {', '.join(rig.skeleton.names[:8])}"
          f"{' ...' if rig.skeleton.n_joints > 8 else ''}); replay RMSE {rep['rmse_pct']:.3f}% of the bbox diagonal "
          f"(max {rep['max_error_pct']:.3f}%), report {report_path}, {time.perf_counter() - t0:.1f}s")
    if preview is not None:
        print(f"wrote {preview}")
    return 0
