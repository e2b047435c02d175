"""The gRPC server: ArticulateService + grpc.health.v1 + server reflection, token auth, TLS, limits.

    from sdk.server.server import ServerOptions, start_server
    running = start_server(ServerOptions(port=0, tokens=["s3cret"]))
    print(running.port)
    ...
    running.shutdown(grace=10)

``articulate serve`` (sdk/cli/serve.py) wraps :func:`serve`, which also handles SIGTERM/SIGINT.
"""
from __future__ import annotations

import hmac
import logging
import signal
import threading
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from ..errors import InvalidInputError
from .gen.articulate.services.v1 import articulate_service_pb2_grpc as sgrpc
from .jobs import JobQueue, install_warning_relay
from .service import SERVICE_NAME, ArticulateServicer, ServiceConfig

log = logging.getLogger("sdk.server")

HEALTH_SERVICE = "grpc.health.v1.Health"
#: methods answered without a token (health probes, schema discovery)
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                   "/grpc.reflection.v1.ServerReflection/")


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 50051                     # 0 = any free port (see RunningServer.port)
    tokens: list[str] = field(default_factory=list)  # empty = no auth
    tls_cert: Path | None = None
    tls_key: Path | None = None
    workers: int = 1                      # heavy jobs run at once
    queue_capacity: int = 64
    rpc_threads: int = 64                 # concurrent RPCs (streams included)
    max_message_bytes: int = 64 << 20
    chunk_bytes: int = 1 << 20
    max_upload_bytes: int = 1 << 30


def read_tokens(path) -> list[str]:
    """One token per non-empty line (lines starting with # are comments)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise InvalidInputError(f"cannot read token file {p}: {e.strerror or e}", field="--token-file") from None
    tokens = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not tokens:
        raise InvalidInputError(f"token file {p} holds no token", field="--token-file")
    if any(len(t) < 8 for t in tokens):
        raise InvalidInputError(f"token file {p}: tokens must be at least 8 characters", field="--token-file")
    return tokens


class TokenAuthInterceptor(grpc.ServerInterceptor):
    """Checks ``authorization: Bearer <token>`` call metadata; UNAUTHENTICATED otherwise."""

    def __init__(self, tokens, public_prefixes=PUBLIC_PREFIXES):
        self._tokens = [t.encode() for t in tokens]
        self._public = tuple(public_prefixes)

    def _ok(self, metadata) -> bool:
        for k, v in metadata or ():
            if k == "authorization":
                v = v.decode() if isinstance(v, bytes) else v
                if v.startswith("Bearer "):
                    got = v[7:].strip().encode()
                    # compare against every token (no early exit on the first match)
                    return sum(hmac.compare_digest(got, t) for t in self._tokens) > 0
                return False
        return False

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method or ""
        if method.startswith(self._public) or self._ok(handler_call_details.invocation_metadata):
            return continuation(handler_call_details)
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        has_md = any(k == "authorization" for k, _ in handler_call_details.invocation_metadata or ())
        msg = "invalid token" if has_md else "missing token: send metadata 'authorization: Bearer <token>'"

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, msg)

        def deny_stream(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, msg)
            yield  # pragma: no cover - makes this a generator for streaming responses

        kw = dict(request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny_stream, **kw)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(deny, **kw)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny_stream, **kw)
        return grpc.unary_unary_rpc_method_handler(deny, **kw)


class RunningServer:
    """A started server: ``port``, ``servicer``, ``health`` and a graceful ``shutdown``."""

    def __init__(self, server, port, servicer, health, options):
        self.server, self.port, self.servicer, self.health, self.options = server, port, servicer, health, options
        self._stopped = threading.Event()

    @property
    def target(self) -> str:
        host = self.options.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def shutdown(self, grace: float = 30.0) -> None:
        """Health NOT_SERVING, no new jobs, in-flight jobs get ``grace`` seconds to finish, then are cancelled."""
        if self._stopped.is_set():
            return
        log.info("shutting down: health NOT_SERVING, draining %d jobs (grace %.0f s)",
                 self.servicer.queue.in_flight, grace)
        self.health.enter_graceful_shutdown()
        q = self.servicer.queue
        q.close()
        if not q.drain(grace):
            n = q.cancel_all()
            log.warning("grace period over: cancelled %d jobs", n)
            q.drain(5.0)
        # streams get a moment to deliver their final events
        self.server.stop(2.0).wait()
        q.join(2.0)
        self._stopped.set()

    def wait(self) -> None:
        self.server.wait_for_termination()


def start_server(options: ServerOptions | None = None, *, articulator=None) -> RunningServer:
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection

    o = options or ServerOptions()
    if (o.tls_cert is None) != (o.tls_key is None):
        raise InvalidInputError("TLS needs both --tls-cert and --tls-key", field="--tls-cert")
    cfg = ServiceConfig(workers=o.workers, queue_capacity=o.queue_capacity, max_receive_bytes=o.max_message_bytes,
                        max_send_bytes=o.max_message_bytes, chunk_bytes=min(o.chunk_bytes, o.max_message_bytes // 2),
                        max_upload_bytes=o.max_upload_bytes, auth_required=bool(o.tokens), tls=o.tls_cert is not None)
    install_warning_relay()
    servicer = ArticulateServicer(articulator, cfg, JobQueue(cfg.workers, cfg.queue_capacity))
    interceptors = [TokenAuthInterceptor(o.tokens)] if o.tokens else []
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=o.rpc_threads, thread_name_prefix="articulate-rpc"),
        interceptors=interceptors,
        options=[("grpc.max_receive_message_length", o.max_message_bytes),
                 ("grpc.max_send_message_length", o.max_message_bytes),
                 ("grpc.so_reuseport", 0)],
        maximum_concurrent_rpcs=o.rpc_threads,
    )
    sgrpc.add_ArticulateServiceServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection((SERVICE_NAME, HEALTH_SERVICE, reflection.SERVICE_NAME), server)
    address = f"[{o.host}]:{o.port}" if ":" in o.host else f"{o.host}:{o.port}"
    if o.tls_cert is not None:
        try:
            key, cert = Path(o.tls_key).read_bytes(), Path(o.tls_cert).read_bytes()
        except OSError as e:
            raise InvalidInputError(f"cannot read TLS key/certificate: {e}", field="--tls-cert") from None
        port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
    else:
        port = server.add_insecure_port(address)
    if not port:
        raise InvalidInputError(f"cannot bind {address}", field="--port")
    server.start()
    if o.host not in ("127.0.0.1", "localhost", "::1") and not o.tokens:
        log.warning("serving on %s without --token-file: anyone who can reach the port can run jobs", address)
    if o.host not in ("127.0.0.1", "localhost", "::1") and o.tokens and o.tls_cert is None:
        log.warning("tokens travel in clear text without TLS (--tls-cert/--tls-key)")
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("articulate serve: %s on %s (auth %s, tls %s)", SERVICE_NAME, address,
             "on" if o.tokens else "off", "on" if o.tls_cert else "off")
    return RunningServer(server, port, servicer, health_servicer, o)


def serve(options: ServerOptions, *, grace: float = 30.0, ready=None) -> int:
    """Run until SIGTERM/SIGINT, then shut down gracefully. ``ready(running)`` is called once bound.

    A second signal during the shutdown cancels the in-flight jobs at once.
    """
    running = start_server(options)
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            log.warning("second signal: cancelling in-flight jobs")
            running.servicer.queue.cancel_all("server stopped")
        stop.set()
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        if ready is not None:
            ready(running)
        while not stop.wait(0.5):
            pass
        running.shutdown(grace)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 0
