"""``articulate evaluate {skinning,motion,joints}``: evaluation tables over ../shared/data."""
from __future__ import annotations

import importlib

# evaluation name -> module exposing add_arguments(parser) and run(args) -> int
EVALUATIONS = {
    "skinning": "sdk.evaluation.skinning",
    "motion": "sdk.evaluation.motion",
    "joints": "sdk.evaluation.joints",
    "autorig": "sdk.evaluation.autorig",
    "gs4d": "sdk.evaluation.gs4d",
    "tracking": "sdk.evaluation.tracking",
    "physics": "sdk.evaluation.physics",
}


def register(sub):
    p = sub.add_parser("evaluate", help="print evaluation tables against ground truth")
    esub = p.add_subparsers(dest="evaluation", required=True, help="which evaluation to run")
    for name, modname in EVALUATIONS.items():
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as e:
            if e.name == modname:
                continue
            raise
        ep = esub.add_parser(name, help=(mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else None)
        mod.add_arguments(ep)
        ep.add_argument("--record", default=None, metavar="OUT.json",
                        help="also write the run (command, printed tables, wall/CPU seconds, load, commit) to this "
                             "JSON file; docs/tables.py renders the docs tables from it "
                             f"(conventionally bench/results/evaluate-{name}.json)")
        ep.set_defaults(func=_recorded(mod.run, name))


def _recorded(func, name: str):
    """``func(args)``, recorded to ``args.record`` when given (sdk.evaluation.record)."""
    def run(args) -> int:
        if not args.record:
            return func(args)
        from ..evaluation.record import run_recorded
        command = _without_record(list(vars(args).get("argv") or [])) or ["evaluate", name]
        return run_recorded(func, args, f"evaluate-{name}", command, args.record)
    return run


def _without_record(argv: list) -> list:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--record":
            skip = True
            continue
        if a.startswith("--record="):
            continue
        out.append(a)
    return out
