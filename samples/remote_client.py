"""Rig a sample through an ``articulate serve`` server, the way a studio tool would.

    articulate serve --port 50051 --token-file tokens.txt &        # on the rig box
    python samples/remote_client.py --target localhost:50051 --token-file tokens.txt

Without --target it starts a private server on a free loopback port for the demo. The switch
between local and remote work is one line (``make_articulator``); everything after it is the same
code for both.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def make_articulator(target: str | None, token: str | None):
    from sdk import Articulator
    from sdk.client import RemoteArticulator
    if target is None:
        return Articulator()                                              # local, in-process
    return RemoteArticulator(target, token=token, timeout=600)            # remote, same methods


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--target", help="host:port of an articulate server (default: start one here)")
    p.add_argument("--token-file", type=Path, help="bearer token file (first line is used)")
    p.add_argument("--local", action="store_true", help="run in-process instead (the one-line switch)")
    p.add_argument("--input", type=Path, default=HERE / "critter.obj")
    p.add_argument("-o", "--output", type=Path, default=Path("critter_remote.usda"))
    args = p.parse_args(argv)

    from sdk.errors import ArticulateError
    try:
        return _run(args)
    except ArticulateError as e:  # bad token, server down, bad input: one line, like the articulate CLI
        hint = (" (pass --token-file with a token the server accepts)"
                if "UNAUTHENTICATED" in str(e) or "PERMISSION_DENIED" in str(e) else "")
        print(f"error: {e}{hint}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from sdk.errors import InvalidInputError
    from sdk.io import save
    token = None
    if args.token_file:
        try:
            words = args.token_file.read_text().split()
        except OSError as e:
            raise InvalidInputError(f"cannot read token file {args.token_file}: {e.strerror or e}",
                                    field="--token-file") from None
        if not words:
            raise InvalidInputError(f"token file {args.token_file} is empty", field="--token-file")
        token = words[0]
    running = None
    if args.target is None and not args.local:
        from sdk.server.server import ServerOptions, start_server
        running = start_server(ServerOptions(port=0))
        args.target = running.target
        print(f"started a demo server on {args.target}")
    try:
        art = make_articulator(None if args.local else args.target, token)
        if not args.local:
            print("health:", art.health(), "| server:", art.server_info().sdk_version)

        def show(fraction: float, message: str) -> None:
            print(f"  {100 * fraction:5.1f}%  {message}")

        rig = art.rig(args.input, method="harmonic", max_influences=4, progress=show)
        print(f"rig: {rig.skeleton.n_joints} joints over {rig.mesh.n_vertices} vertices; "
              f"joints {', '.join(rig.skeleton.names)}")
        save(rig, args.output)  # the returned Rig is a normal SDK object
        print(f"wrote {args.output}")
        if not args.local:  # files can also be made on the server and streamed back in chunks
            _, files = art.rig_files(args.input, formats=["glb"])
            out = args.output.with_suffix(".glb")
            out.write_bytes(files["rig.glb"])
            print(f"wrote {out} ({len(files['rig.glb'])} bytes, made on the server)")
    finally:
        if running is not None:
            running.shutdown(grace=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
