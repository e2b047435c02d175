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
        ep.set_defaults(func=mod.run)
