"""``articulate validate FILE --target ue5|unity|gltf|omniverse``: engine validation report for an exported rig."""
from __future__ import annotations

from pathlib import Path


def register(sub):
    p = sub.add_parser("validate", help="check an exported rig (.glb/.gltf, .usd*, .fbx) against an engine's rules")
    p.add_argument("input", help="rig file to check")
    p.add_argument("--target", choices=["ue5", "unity", "gltf", "omniverse"], default="ue5",
                   help="engine profile to check against (default ue5)")
    p.add_argument("--json", default=None, help="also write the report as JSON here")
    p.add_argument("--strict", action="store_true", help="exit 1 on warnings too (default: only on errors)")
    p.set_defaults(func=run, inputs={"input": "rig"})


def run(args) -> int:
    from ..validation import validate_file
    rep = validate_file(Path(args.input), args.target)
    print(rep.format_text())
    if args.json:
        rep.write(args.json)
    if rep.errors or (args.strict and rep.warnings):
        return 1
    return 0
