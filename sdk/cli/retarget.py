"""``articulate retarget CLIP_SOURCE TARGET_RIG -o OUT``: apply a clip from one rig to another through the naming
profiles (or, for a source with arbitrary bone names, through an auto-rig of the source mesh)."""
from __future__ import annotations

from pathlib import Path


def register(sub):
    p = sub.add_parser("retarget", help="apply an animation clip of one rig to another rig (profile names or geometry)")
    p.add_argument("source", help="rig with the clip (.glb/.gltf, .fbx)")
    p.add_argument("target", help="rig to animate (.glb/.gltf, .usd/.usda/.usdc, .fbx), e.g. from 'articulate rig'")
    p.add_argument("-o", "--output", required=True, help="output .glb/.gltf, .usda/.usdc/.usd or .fbx")
    p.add_argument("--clip", default=None, help="clip name (default: every clip of the source)")
    p.add_argument("--target-engine", choices=["ue5", "unity", "gltf", "omniverse"], default=None,
                   help="validation report target (default from the output format)")
    p.set_defaults(func=run, inputs={"source": "rig", "target": "rig"})


def read_rig(path: Path):
    from ..errors import AssetReadError, InvalidInputError
    ext = path.suffix.lower()
    if ext in (".usd", ".usda", ".usdc"):
        from ..io.usdskel import read_rig_usd
        a = read_rig_usd(path)
    elif ext == ".fbx":
        from ..io.fbx import read_fbx
        a = read_fbx(path)
    elif ext in (".glb", ".gltf"):
        from ..io.gltf import load_gltf
        a = load_gltf(path)
    else:
        raise InvalidInputError(f"cannot read a rig from '{ext}' (use .glb/.gltf, .usd*, .fbx)", field=str(path))
    if a.rig is None:
        raise AssetReadError(path, "has no skinned rig")
    return a.rig


def run(args) -> int:
    from ..autorig.retarget import correspondence, retarget
    from ..errors import InvalidInputError
    from .rig import OUTPUTS, export_rig
    out = Path(args.output)
    if out.suffix.lower() not in OUTPUTS:
        raise InvalidInputError(f"unknown output format '{out.suffix}' (use {', '.join(OUTPUTS)})", field="output")
    src, tgt = read_rig(Path(args.source)), read_rig(Path(args.target))
    if not src.animations:
        raise InvalidInputError(f"{args.source} has no animation clip", field="source")
    names = [a.name for a in src.animations]
    if args.clip is not None and args.clip not in names:
        raise InvalidInputError(f"no clip named {args.clip!r}; {args.source} has {names}", field="clip")
    mapping = correspondence(src, tgt)
    tgt.animations = [retarget(src, tgt, clip=c, mapping=mapping) for c in ([args.clip] if args.clip else names)]
    rep = export_rig(tgt, out, target=args.target_engine)
    print(f"wrote {out}: {len(tgt.animations)} clip(s) {', '.join(a.name for a in tgt.animations)} on "
          f"{tgt.skeleton.n_joints} bones ({len(mapping)} mapped from {Path(args.source).name})"
          + (f"; validation {rep.summary()}" if rep is not None else ""))
    return 0
