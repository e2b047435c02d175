"""``articulate`` command line. Each sub-command lives in its own module with ``register(sub)``."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# sub-command modules, in help order; each defines register(subparsers)
COMMANDS = ["rig", "rig_from_motion", "joints", "parts", "animate", "physics_track", "models", "compile", "serve", "evaluate",
            "validate", "retarget", "render_views", "reconstruct_4d", "batch", "mesh_cache"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="articulate", description="Game-ready rigs, articulation joints and 4D caches.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:  # a command not built yet in this checkout
            if e.name == f"{__name__}.{name}":
                continue
            raise
        mod.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from ..errors import ArticulateError
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except ArticulateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
