"""``articulate`` command line. Each sub-command lives in its own module with ``register(sub)``."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# sub-command modules, in help order; each defines register(subparsers)
COMMANDS = ["rig", "rig_from_motion", "joints", "parts", "animate", "physics_track", "models", "compile", "serve", "evaluate",
            "validate", "retarget", "render_views", "reconstruct_4d", "batch", "mesh_cache", "video_to_4d"]


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
    argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    args = build_parser().parse_args(argv)
    args.argv = argv  # the command line as given (``evaluate --record`` keeps it)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    try:
        from ._common import check_flags, check_inputs
        check_device(getattr(args, "device", None))
        check_flags(args)
        check_inputs(args)
        return int(args.func(args) or 0)
    except ArticulateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def check_device(device: str | None) -> None:
    """``--device`` once, before any work: a CUDA device on a torch without CUDA (or past the GPU count) is an
    :class:`InvalidInputError` naming the flag, not torch's AssertionError deep inside the run."""
    if not device or not str(device).startswith("cuda"):
        return
    from ..errors import InvalidInputError
    import torch
    if not torch.cuda.is_available():
        raise InvalidInputError(f"--device {device}: this torch ({torch.__version__}) has no CUDA device; "
                                f"use --device cpu", field="device")
    idx = str(device).partition(":")[2]
    if idx and (not idx.isdigit() or int(idx) >= torch.cuda.device_count()):
        raise InvalidInputError(f"--device {device}: {torch.cuda.device_count()} CUDA device(s) here", field="device")


if __name__ == "__main__":
    sys.exit(main())
