"""``articulate serve``: the gRPC service (ArticulateService, grpc.health.v1, server reflection)."""
from __future__ import annotations

import math
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the SDK over gRPC",
                       description="Serve rigging, rig-from-motion and articulation over gRPC (articulate.services.v1), "
                                   "with grpc.health.v1 and server reflection (v1 and v1alpha). Prints 'listening on "
                                   "HOST:PORT' once bound; SIGTERM/SIGINT shut down gracefully (exit code 0).")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=50051, help="port (default 50051; 0 picks a free one)")
    p.add_argument("--token-file", type=Path, help="file with accepted bearer tokens, one per line; calls without "
                                                   "'authorization: Bearer <token>' get UNAUTHENTICATED")
    p.add_argument("--tls-cert", type=Path, help="PEM certificate chain (enables TLS, with --tls-key)")
    p.add_argument("--tls-key", type=Path, help="PEM private key")
    p.add_argument("--workers", type=int, default=1, help="heavy jobs run at once (default 1)")
    p.add_argument("--queue-size", type=int, default=64,
                   help="jobs that may wait beyond the running ones; more get RESOURCE_EXHAUSTED (default 64)")
    p.add_argument("--max-message-mb", type=float, default=64.0,
                   help="max gRPC message size in MiB, both directions (default 64, at most 2048); larger inputs "
                        "use Upload, larger results come in chunks")
    p.add_argument("--max-upload-mb", type=float, default=1024.0, help="largest single upload in MiB (default 1024)")
    p.add_argument("--upload-store-mb", type=float, default=2048.0,
                   help="MiB all uploads may hold at once, finished and still arriving (default 2048)")
    p.add_argument("--upload-ttl", type=float, default=600.0,
                   help="seconds an upload is kept (default 600; uploads no RPC can read: 60); DeleteUpload frees "
                        "one sooner")
    p.add_argument("--idle-timeout", type=float, default=30.0,
                   help="seconds a client stream (upload, reflection) may stay silent before it is ended (default 30)")
    p.add_argument("--max-calls", type=int, default=512,
                   help="service calls in flight at once; health and reflection have their own budget (default 512)")
    p.add_argument("--max-calls-per-token", type=int, default=128,
                   help="service calls in flight per bearer token (default 128)")
    p.add_argument("--isolation", default="process",
                   help="'process' (default): each job runs in a worker process that cancel, deadlines and shutdown "
                        "stop at once; 'thread': jobs run in the server and stop at their next progress step")
    p.add_argument("--grace", type=float, default=30.0,
                   help="seconds in-flight jobs get to finish on shutdown before they are cancelled (default 30)")
    p.add_argument("--ray-address", default=None,
                   help="run SubmitJob batch jobs (generic task 'batch') on this Ray cluster: auto or HOST:PORT "
                        "(default: a local Ray started on the first batch job)")
    p.add_argument("--batch-root", type=Path, action="append", default=[],
                   help="folder batch jobs may read and write under (repeatable; none: batch jobs are refused)")
    p.set_defaults(func=run)


def _mib(value: float, flag: str, *, upper: float | None = None) -> int:
    from ..errors import InvalidInputError
    if not (math.isfinite(value) and value > 0) or (upper is not None and value > upper):
        rng = f"in (0, {upper:g}]" if upper is not None else "a positive number"
        raise InvalidInputError(f"{flag} must be {rng} MiB, got {value:g}", field=flag)
    return int(value * (1 << 20))


def options_from_args(args):
    """ServerOptions from parsed ``serve`` arguments; every flag checked with a message naming it."""
    from ..errors import InvalidInputError
    from ..server.server import MAX_MESSAGE_BYTES, ServerOptions, read_tokens, validate_options
    if not (math.isfinite(args.grace) and args.grace >= 0):
        raise InvalidInputError(f"--grace must be a number of seconds >= 0, got {args.grace:g}", field="--grace")
    for flag, v in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key), ("--token-file", args.token_file)):
        if v is not None and not v.is_file():
            from ..errors import bad_flag
            raise bad_flag(flag, v, "is a directory, not a file" if v.is_dir() else "no such file")
    # gRPC takes message sizes as C ints: 2048 MiB means the largest one it accepts
    max_msg = min(_mib(args.max_message_mb, "--max-message-mb", upper=2048), MAX_MESSAGE_BYTES)
    opts = ServerOptions(host=args.host, port=args.port, tokens=read_tokens(args.token_file) if args.token_file else [],
                         tls_cert=args.tls_cert, tls_key=args.tls_key, workers=args.workers,
                         queue_capacity=args.queue_size, max_message_bytes=max_msg,
                         max_upload_bytes=_mib(args.max_upload_mb, "--max-upload-mb"),
                         upload_store_bytes=_mib(args.upload_store_mb, "--upload-store-mb"),
                         upload_ttl_s=args.upload_ttl, idle_timeout_s=args.idle_timeout, max_calls=args.max_calls,
                         max_calls_per_token=args.max_calls_per_token, isolation=args.isolation)
    validate_options(opts)
    return opts


def run(args) -> int:
    from ..server.server import serve
    opts = options_from_args(args)
    from ..batch.service import configure
    configure(ray_address=args.ray_address, roots=args.batch_root)

    def ready(running):
        print(f"listening on {running.target} (auth {'on' if opts.tokens else 'off'}, "
              f"tls {'on' if opts.tls_cert else 'off'}, isolation {opts.isolation})", flush=True)
    return serve(opts, grace=args.grace, ready=ready)
