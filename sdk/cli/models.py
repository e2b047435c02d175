"""``articulate models``: the learned models, their expected weight files and whether they are present."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("models", help="list models, expected weight files and whether present",
                       description="List every learned model, the weight file it loads, whether that file is present "
                                   "and where it is looked for ($ARTICULATE_WEIGHTS_DIR, then sdk/assets/weights).")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    from ..models.registry import status
    rows = status()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    w = max(len(r["model"]) for r in rows)
    fw = max(len(r["file"]) for r in rows)
    for r in rows:
        print(f"{r['model']:<{w}}  {r['file']:<{fw}}  {'present' if r['present'] else 'MISSING'}  {r['path']}")
        print(f"{'':<{w}}  {r['description']}")
    return 0
