"""``articulate rig INPUT -o OUT.usda|.glb|.fbx``: skeleton + skin weights for a parted or a plain mesh."""
from __future__ import annotations

import time
from pathlib import Path


def register(sub):
    p = sub.add_parser("rig", help="rig a parted or plain mesh (template embedding, harmonic or bone-heat skinning) "
                                   "and write USD/glTF/FBX")
    p.add_argument("input", help="glTF/GLB, OBJ (groups = parts), PLY or USD mesh")
    p.add_argument("-o", "--output", required=True,
                   help="output .usda/.usdc/.usd (textures next to it), .usdz (packaged with its textures), "
                        ".glb/.gltf or .fbx")
    from ..rigging.methods import SKINNING
    p.add_argument("--method", choices=SKINNING.names(), default=None,
                   help="skinning (default: pairwise for parts, the best on the held-out skinning evaluation; harmonic = SP4D's band; a plain mesh always uses heat)")
    p.add_argument("--template", choices=["auto", "biped", "quadruped", "chain"], default=None,
                   help="skeleton template for a plain mesh (default auto when the mesh has no parts; "
                        "giving it rigs a parted mesh as a plain one)")
    p.add_argument("--naming", choices=["ue5", "mixamo", "unity", "generic"], default="ue5",
                   help="bone names and axes for a template rig (default ue5)")
    p.add_argument("--target", choices=["ue5", "unity", "gltf", "omniverse"], default=None,
                   help="engine for the validation report written next to the output (default from the format)")
    p.add_argument("--no-report", action="store_true", help="do not write OUTPUT.validation.json")
    from ..rigging.budget import MAX_INFLUENCES
    p.add_argument("--max-influences", type=int, default=4,
                   help=f"influences per vertex, 1..{MAX_INFLUENCES} (engines: 4 or 8; default 4)")
    p.add_argument("--max-bones", type=int, default=None, help="merge parts by contact until at most N bones")
    p.add_argument("--root", default=None, help="root part name (default: most central/largest)")
    p.add_argument("--quantize", type=int, choices=[8, 16], default=None, help="quantize weights (exact unit sums)")
    p.add_argument("--parts", default=None, help=".npy/.txt per-vertex or per-face part labels")
    p.add_argument("--parts-from-skin", action="store_true",
                   help="parts = argmax of the input's skin (SP4D's ground-truth kinematic parts; for evaluation)")
    p.add_argument("--up-axis", choices=["Y", "Z"], default="Y", help="up axis written to a USD stage (default Y)")
    p.add_argument("--meters-per-unit", type=float, default=1.0, help="USD stage metersPerUnit (default 1.0)")
    p.add_argument("--preview", default=None, help="PNG preview path (default: OUTPUT with .png)")
    p.add_argument("--no-preview", action="store_true", help="do not write the PNG preview")
    p.set_defaults(func=run, inputs={"input": "asset", "--parts": "labels"},
                   flags={"--max-influences": f"int1..{MAX_INFLUENCES}", "--max-bones": "int>=1",
                          "--meters-per-unit": ">0"})


OUTPUTS = (".usda", ".usdc", ".usd", ".usdz", ".glb", ".gltf", ".fbx")
_DEFAULT_TARGET = {".fbx": "ue5", ".glb": "gltf", ".gltf": "gltf", ".usd": "omniverse", ".usda": "omniverse",
                   ".usdc": "omniverse", ".usdz": "omniverse"}


def export_rig(rig, out: Path, *, up_axis: str = "Y", meters_per_unit: float = 1.0, target: str | None = None,
               write_report: bool = True):
    """Write ``rig`` by extension, then (unless disabled) the engine validation report next to it.

    Returns the report (or None). A Unity-profile rig also gets OUTPUT.humanoid.json (HumanBodyBones map).
    """
    import json
    suffix = out.suffix.lower()
    if suffix in (".usd", ".usda", ".usdc", ".usdz"):
        rig.export_usd(out, up_axis=up_axis, meters_per_unit=meters_per_unit)
    elif suffix == ".fbx":
        from exporters.fbx import write_rig_fbx
        write_rig_fbx(rig, out, target=target or "ue5")
    else:
        rig.export(out)
    if "humanoid" in rig.metadata:
        from ..util.atomic import atomic_path
        hp = out.with_name(out.name + ".humanoid.json")
        with atomic_path(hp) as tmp:
            Path(tmp).write_text(json.dumps(rig.metadata["humanoid"], indent=1))
    if not write_report:
        return None
    try:
        from ..validation import validate_file
    except ModuleNotFoundError:
        return None
    rep = validate_file(out, target or _DEFAULT_TARGET[suffix])
    rep.write(out.with_name(out.name + ".validation.json"))
    return rep


def run(args) -> int:
    from ..articulator import Articulator
    from ..util.progress import cli_bar, sub
    t0 = time.perf_counter()
    from ..errors import InvalidInputError
    from ..rigging.config import RigConfig
    out = Path(args.output)
    suffix = out.suffix.lower()
    if out.is_dir():
        raise InvalidInputError(f"output {out} is a folder; give a file name (e.g. {out / 'rig.usda'})", field="output")
    if suffix not in OUTPUTS:  # before the solve: a typo must not cost a rig
        raise InvalidInputError(f"unknown output format '{suffix}' (use {', '.join(OUTPUTS)})", field="output")
    if out.parent.exists() and not out.parent.is_dir():
        raise InvalidInputError(f"output folder {out.parent} is a file", field="output")
    out.parent.mkdir(parents=True, exist_ok=True)  # `-o out/critter.usda` on a fresh clone makes out/
    # the options are validated once, before any work (the plain-mesh path checks its template/naming itself)
    RigConfig(args.method or RigConfig.method, args.max_influences, args.max_bones, args.root, args.quantize,
              args.parts_from_skin)
    with cli_bar("rig") as progress:
        art = Articulator()
        rig = art.rig(args.input, parts=args.parts, method=args.method, max_influences=args.max_influences,
                      max_bones=args.max_bones, root=args.root, quantize_bits=args.quantize,
                      parts_from_skin=args.parts_from_skin, template=args.template, naming=args.naming,
                      progress=sub(progress, 0.0, 0.9))
        progress(0.95, "export")
        report = export_rig(rig, out, up_axis=args.up_axis, meters_per_unit=args.meters_per_unit, target=args.target,
                            write_report=not args.no_report)
        preview = None
        if not args.no_preview:
            progress(0.97, "preview")
            if "template" in rig.metadata:  # automatic rig: skeleton with bone names
                from ..autorig.preview import render_autorig_preview
                preview = render_autorig_preview(rig, args.preview or out.with_suffix(".png"))
            else:
                from ..render.preview import render_rig_preview
                preview = render_rig_preview(rig, args.preview or out.with_suffix(".png"))
    method = rig.metadata.get("method", args.method)
    if report is not None:
        print(f"validation ({report.target}): {report.summary()} -> {report.path}")
    print(f"wrote {out} ({rig.mesh.n_vertices} vertices, {rig.skeleton.n_joints} joints: "
          f"{', '.join(rig.skeleton.names[:8])}{' ...' if rig.skeleton.n_joints > 8 else ''}; "
          f"{rig.skin.max_influences} influences, {method}"
          f"{', template ' + rig.metadata['template'] if 'template' in rig.metadata else ''}) in {time.perf_counter() - t0:.1f}s")
    if preview:
        print(f"preview {preview}")
    return 0
