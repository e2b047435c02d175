"""``articulate serve``: the gRPC service (ArticulateService, grpc.health.v1, server reflection)."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the SDK over gRPC",
                       description="Serve rigging, rig-from-motion and articulation over gRPC (articulate.services.v1), "
                                   "with grpc.health.v1 and server reflection. Prints 'listening on HOST:PORT' "
                                   "once bound; SIGTERM/SIGINT shut down gracefully.")
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
                   help="max gRPC message size in MiB, both directions (default 64); larger inputs use Upload")
    p.add_argument("--grace", type=float, default=30.0,
                   help="seconds in-flight jobs get to finish on shutdown before they are cancelled (default 30)")
    p.add_argument("--ray-address", default=None,
                   help="run SubmitJob batch jobs (generic task 'batch') on this Ray cluster: auto or HOST:PORT "
                        "(default: a local Ray started on the first batch job)")
    p.add_argument("--batch-root", type=Path, action="append", default=[],
                   help="folder batch jobs may read and write under (repeatable; none: batch jobs are refused)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import InvalidInputError
    from ..server.server import ServerOptions, read_tokens, serve
    if args.workers < 1:
        raise InvalidInputError("--workers must be >= 1", field="--workers")
    if args.queue_size < 0:
        raise InvalidInputError("--queue-size must be >= 0", field="--queue-size")
    if not 0 <= args.port <= 65535:
        raise InvalidInputError(f"--port {args.port} is out of range", field="--port")
    if args.max_message_mb <= 0:
        raise InvalidInputError("--max-message-mb must be positive", field="--max-message-mb")
    from ..batch.service import configure
    configure(ray_address=args.ray_address, roots=args.batch_root)
    opts = ServerOptions(host=args.host, port=args.port, tokens=read_tokens(args.token_file) if args.token_file else [],
                         tls_cert=args.tls_cert, tls_key=args.tls_key, workers=args.workers,
                         queue_capacity=args.queue_size, max_message_bytes=int(args.max_message_mb * (1 << 20)))

    def ready(running):
        print(f"listening on {running.target} (auth {'on' if opts.tokens else 'off'}, "
              f"tls {'on' if opts.tls_cert else 'off'})", flush=True)
    return serve(opts, grace=args.grace, ready=ready)
