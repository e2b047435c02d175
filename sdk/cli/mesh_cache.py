"""``articulate mesh-cache INPUT -o OUT.usdc|.usda|.abc|.glb [--register]``: write a 4D mesh cache.

INPUT: a glTF/GLB with a skinned clip (baked), a folder of OBJ/PLY/GLB frames, a USD cache (time samples or value
clips), or ``.npz`` (vertices [T, V, 3], faces). Frames whose topology varies are written as USD value clips, or,
with ``--register``, converted to one topology first (ShapeGen4D App. A.2: the template mesh deformed through every
frame, UVs carried along) and written as a time-sampled cache.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

_OUT = (".usdc", ".usda", ".usd", ".abc", ".glb", ".gltf")


def register(sub):
    p = sub.add_parser("mesh-cache", help="write a 4D mesh cache (USD time samples / value clips, Alembic, glTF "
                                          "morph flipbook), optionally registering per-frame meshes to one topology")
    p.add_argument("input", help="glTF/GLB with a skinned clip, folder of OBJ/PLY/GLB frames, USD cache or .npz")
    p.add_argument("-o", "--output", required=True, help="output .usdc (default kind) / .usda / .abc / .glb")
    p.add_argument("--clip", default=None, help="animation clip of a glTF input (default: the first)")
    p.add_argument("--fps", type=float, default=None, help="frame rate of a frames folder / .npz input (default: the file's own, else 30)")
    p.add_argument("--max-frames", type=int, default=None, help="use at most N evenly spaced frames")
    p.add_argument("--register", action="store_true",
                   help="register frames of varying topology into the first frame's topology")
    p.add_argument("--mode", choices=("template", "chain"), default="template",
                   help="registration: template -> every frame (warm-started, default) or chain t -> t+1 (paper)")
    p.add_argument("--iterations", type=int, default=None, help="registration refinement steps per frame")
    p.add_argument("--device", default=None, help="torch device for registration (cpu, cuda)")
    p.add_argument("--normals", action="store_true", help="author per-frame vertex normals (USD)")
    p.add_argument("--velocities", action="store_true", help="author per-frame velocities (USD)")
    p.add_argument("--up-axis", default="Y", choices=("Y", "Z"), help="up axis written to a USD stage (default Y)")
    p.add_argument("--meters-per-unit", type=float, default=1.0, help="USD stage metersPerUnit (default 1.0)")
    p.add_argument("--single-file", action="store_true", help="USD: put the cache in the asset file itself")
    p.add_argument("--preview", default=None, help="GIF preview path (default: OUTPUT with .gif)")
    p.add_argument("--no-preview", action="store_true", help="do not write the preview")
    p.add_argument("--report", default=None, help="JSON report path (registration only; default OUTPUT .json)")
    p.set_defaults(func=run, inputs={"input": "sequence"},
                   flags={"--fps": ">0", "--max-frames": "int>=2", "--iterations": "int>=1", "--meters-per-unit": ">0"})


def _subsample(frames, n):
    import numpy as np
    from ..core import MeshFrames
    if n is None or frames.n_frames <= n:
        return frames
    idx = np.unique(np.round(np.linspace(0, frames.n_frames - 1, n)).astype(np.int64))
    step = (frames.n_frames - 1) / max(len(idx) - 1, 1)
    return MeshFrames([frames.frames[i] for i in idx], frames.fps / step, frames.name, frames.source)


def write_preview(frames, path, size: int = 192, max_frames: int = 16) -> Path:
    """An animated GIF of up to ``max_frames`` evenly spaced frames, one fixed camera (fit to all frames)."""
    import numpy as np
    from PIL import Image
    from ..render import orbit_cameras, render_mesh
    from ..util.atomic import atomic_path
    idx = np.unique(np.round(np.linspace(0, frames.n_frames - 1, min(max_frames, frames.n_frames))).astype(int))
    allv = np.concatenate([frames.frames[i].vertices for i in idx])
    c = 0.5 * (allv.min(0) + allv.max(0))
    r = float(np.linalg.norm(allv.max(0) - allv.min(0))) * 0.5 or 1.0
    cam = orbit_cameras(azimuth=[0.6], elevation=[0.3], radius=2.9 * r, fov_deg=40.0, width=size,
                        target=tuple(c.tolist()))
    ims = []
    for i in idx:
        m = frames.frames[i]
        rgb = render_mesh(m.vertices, m.faces, cam).rgb.numpy()[0]
        ims.append(Image.fromarray((rgb * 255).astype(np.uint8)).convert("P", palette=Image.ADAPTIVE))
    path = Path(path)
    with atomic_path(path, suffix=".gif") as tmp:
        ims[0].save(tmp, format="GIF", save_all=True, append_images=ims[1:], duration=int(1000 / max(frames.fps, 1)),
                    loop=0)
    return path


def run(args) -> int:
    from ..util.progress import cli_bar, sub
    from ..errors import InvalidInputError
    from ..io.sequence import load_mesh_frames
    t0 = time.perf_counter()
    out = Path(args.output)
    ext = out.suffix.lower()
    if ext not in _OUT:
        raise InvalidInputError(f"unknown output format '{out.suffix}' (use {', '.join(_OUT)})", field="output")
    frames = _subsample(load_mesh_frames(args.input, clip=args.clip, fps=args.fps), args.max_frames)
    frames.validate(min_frames=2)
    with cli_bar("mesh-cache") as top:
        progress = sub(top, 0.0, 0.9)  # the command's steps fill 0-90 %
        report = None
        if args.register:
            from ..registration import RegistrationConfig, register_frames
            cfg = RegistrationConfig(mode=args.mode)
            if args.iterations:
                cfg.iterations = args.iterations
            if args.device:
                cfg.device = args.device
            seq, report = register_frames(frames, cfg, progress=progress)
        elif frames.fixed_topology:
            seq = frames.to_sequence()
        elif ext in (".usdc", ".usda", ".usd"):
            seq = frames  # value clips
        else:
            bad = next(i for i, m in enumerate(frames.frames)
                       if m.n_vertices != frames.frames[0].n_vertices or m.n_faces != frames.frames[0].n_faces
                       or not (m.faces == frames.frames[0].faces).all())
            raise InvalidInputError(f"topology changes at frame {bad}: {ext} needs one topology; pass --register or "
                                    f"write .usdc (value clips)", field=f"frame {bad}", source=str(args.input))
        progress(0.95, "export")
        if ext in (".usdc", ".usda", ".usd"):
            from exporters.usd_cache import write_mesh_cache_usd
            write_mesh_cache_usd(seq, out, up_axis=args.up_axis, meters_per_unit=args.meters_per_unit,
                                 normals=args.normals, velocities=args.velocities, separate_layer=not args.single_file)
        elif ext == ".abc":
            from exporters.alembic import write_mesh_cache_alembic
            write_mesh_cache_alembic(seq, out)
        else:
            from exporters.gltf_morph import write_mesh_cache_gltf
            write_mesh_cache_gltf(seq, out)
        preview = None
        if not args.no_preview:
            from ..core import Mesh, MeshFrames
            pf = seq if isinstance(seq, MeshFrames) else MeshFrames([Mesh(v, seq.faces) for v in seq.vertices], seq.fps)
            preview = write_preview(pf, args.preview or out.with_suffix(".gif"))
    if report is not None:
        from ..util.atomic import atomic_write_text
        rp = Path(args.report) if args.report else out.with_suffix(".json")
        atomic_write_text(rp, json.dumps(report, indent=1))
    from ..core import MeshFrames as _MF
    kind = "value clips" if isinstance(seq, _MF) else f"{seq.n_vertices} vertices"
    print(f"wrote {out} ({frames.n_frames} frames, {kind}, {frames.fps:g} fps"
          + (f", registered ({args.mode}) in {report['seconds']:.1f}s" if report else "")
          + f"){f', preview {preview}' if preview else ''}, {time.perf_counter() - t0:.1f}s")
    return 0
