"""``articulate rig INPUT -o OUT.usda``: skeleton + skin weights for a parted mesh."""
from __future__ import annotations

import time
from pathlib import Path


def register(sub):
    p = sub.add_parser("rig", help="rig a parted mesh (harmonic or bone-heat skinning) and write USD/glTF")
    p.add_argument("input", help="glTF/GLB, OBJ (groups = parts), PLY or USD mesh")
    p.add_argument("-o", "--output", required=True, help="output .usda/.usdc/.usd or .glb/.gltf")
    from ..rigging.methods import SKINNING
    p.add_argument("--method", choices=SKINNING.names(), default="harmonic")
    p.add_argument("--max-influences", type=int, default=4, help="influences per vertex, 1..16 (engines: 4 or 8)")
    p.add_argument("--max-bones", type=int, default=None, help="merge parts by contact until at most N bones")
    p.add_argument("--root", default=None, help="root part name (default: most central/largest)")
    p.add_argument("--quantize", type=int, choices=[8, 16], default=None, help="quantize weights (exact unit sums)")
    p.add_argument("--parts", default=None, help=".npy/.txt per-vertex or per-face part labels")
    p.add_argument("--parts-from-skin", action="store_true",
                   help="parts = argmax of the input's skin (SP4D's ground-truth kinematic parts; for evaluation)")
    p.add_argument("--up-axis", choices=["Y", "Z"], default="Y")
    p.add_argument("--meters-per-unit", type=float, default=1.0)
    p.add_argument("--preview", default=None, help="PNG preview path (default: OUTPUT with .png)")
    p.add_argument("--no-preview", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..articulator import Articulator
    from ..io import formats
    from ..util.progress import cli_bar, sub
    t0 = time.perf_counter()
    from ..rigging.config import RigConfig
    formats.check_output(args.output, "rig")
    cfg = RigConfig(args.method, args.max_influences, args.max_bones, args.root, args.quantize, args.parts_from_skin)
    with cli_bar("rig") as progress:
        art = Articulator()
        rig = art.rig(args.input, parts=args.parts, config=cfg, progress=sub(progress, 0.0, 0.9))
        progress(0.95, "export")
        out = Path(args.output)
        formats.save(rig, out, **formats.scene_options(out, up_axis=args.up_axis,
                                                       meters_per_unit=args.meters_per_unit))
        preview = None
        if not args.no_preview:
            from ..render.preview import render_rig_preview
            progress(0.97, "preview")
            preview = render_rig_preview(rig, args.preview or out.with_suffix(".png"))
    print(f"wrote {out} ({rig.mesh.n_vertices} vertices, {rig.skeleton.n_joints} joints: "
          f"{', '.join(rig.skeleton.names[:8])}{' ...' if rig.skeleton.n_joints > 8 else ''}; "
          f"{rig.skin.max_influences} influences, {args.method}) in {time.perf_counter() - t0:.1f}s")
    if preview:
        print(f"preview {preview}")
    return 0
