"""The gRPC server (grpc.aio): ArticulateService + grpc.health.v1 + server reflection (v1 and v1alpha).

    from sdk.server.server import ServerOptions, start_server
    running = start_server(ServerOptions(port=0, tokens=["s3cret"]))
    print(running.port)
    ...
    running.shutdown(grace=10)

``articulate serve`` (sdk/cli/serve.py) wraps :func:`serve`, which also handles SIGTERM/SIGINT.

Capacity. The server runs on one asyncio event loop in a background thread: an open stream is a
coroutine, not a thread, so no number of idle streams can starve another call. Service calls are
admitted by :class:`~sdk.server.service.Admission` (``max_calls`` in flight, ``max_calls_per_token``
per token); health and reflection have their own budget (``max_public_streams`` open streams, each
ended after ``idle_timeout_s`` without a request and after ``public_stream_s`` in all), so a flood
of one never reaches the other. Health ``Check`` is a unary call answered at once and counted by
neither.
"""
from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import math
import signal
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from ..errors import InvalidInputError
from .gen.articulate.services.v1 import articulate_service_pb2_grpc as sgrpc
from .jobs import ISOLATIONS, JobQueue, install_warning_relay, tune_malloc
from .service import SERVICE_NAME, ArticulateServicer, ServiceConfig, bearer_token

log = logging.getLogger("sdk.server")

HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
REFLECTION_V1ALPHA = "grpc.reflection.v1alpha.ServerReflection"
#: methods answered without a token (health probes, schema discovery)
PUBLIC_PREFIXES = (f"/{HEALTH_SERVICE}/", f"/{REFLECTION_V1ALPHA}/", f"/{REFLECTION_V1}/")
#: gRPC's message-size options are C ints
MAX_MESSAGE_BYTES = (1 << 31) - 1


@dataclass
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 50051                     # 0 = any free port (see RunningServer.port)
    tokens: list[str] = field(default_factory=list)  # empty = no auth
    tls_cert: Path | None = None
    tls_key: Path | None = None
    workers: int = 1                      # heavy jobs run at once
    queue_capacity: int = 64              # jobs waiting beyond the running ones
    max_message_bytes: int = 64 << 20
    chunk_bytes: int = 1 << 20
    max_upload_bytes: int = 1 << 30
    upload_store_bytes: int = 2 << 30     # uploads held at once (finished + arriving)
    upload_ttl_s: float = 600.0
    idle_timeout_s: float = 30.0          # a client stream silent this long is ended
    max_calls: int = 512                  # service calls in flight
    max_calls_per_token: int = 128
    max_public_streams: int = 256         # open health-watch / reflection streams
    public_stream_s: float = 600.0        # longest health-watch / reflection stream
    isolation: str = "process"            # "process": jobs in worker processes; "thread": in the server


def validate_options(o: ServerOptions) -> None:
    """Every option checked once, with the CLI flag it comes from."""
    def need(ok, flag, msg):
        if not ok:
            raise InvalidInputError(f"{flag} {msg}", field=flag)

    def finite(x):
        return isinstance(x, (int, float)) and math.isfinite(x)
    need(isinstance(o.host, str) and o.host.strip() and not any(c.isspace() for c in o.host), "--host",
         f"must be a host name or address, got {o.host!r}")
    need(isinstance(o.port, int) and 0 <= o.port <= 65535, "--port", f"must be in 0..65535, got {o.port}")
    need(isinstance(o.workers, int) and 1 <= o.workers <= 256, "--workers", f"must be in 1..256, got {o.workers}")
    need(isinstance(o.queue_capacity, int) and 0 <= o.queue_capacity <= 100_000, "--queue-size",
         f"must be in 0..100000, got {o.queue_capacity}")
    need(isinstance(o.max_message_bytes, int) and 4096 <= o.max_message_bytes <= MAX_MESSAGE_BYTES,
         "--max-message-mb", f"must be in (0.004, 2048] MiB (gRPC limit 2^31-1 bytes), got {o.max_message_bytes} bytes")
    need(isinstance(o.max_upload_bytes, int) and o.max_upload_bytes >= 1, "--max-upload-mb", "must be positive")
    need(isinstance(o.upload_store_bytes, int) and o.upload_store_bytes >= o.max_upload_bytes, "--upload-store-mb",
         f"must be at least --max-upload-mb ({o.max_upload_bytes >> 20} MiB)")
    need(finite(o.upload_ttl_s) and o.upload_ttl_s > 0, "--upload-ttl", f"must be a positive number of seconds, "
         f"got {o.upload_ttl_s}")
    need(finite(o.idle_timeout_s) and o.idle_timeout_s > 0, "--idle-timeout",
         f"must be a positive number of seconds, got {o.idle_timeout_s}")
    need(isinstance(o.max_calls, int) and o.max_calls >= 1, "--max-calls", f"must be >= 1, got {o.max_calls}")
    need(isinstance(o.max_calls_per_token, int) and o.max_calls_per_token >= 1, "--max-calls-per-token",
         f"must be >= 1, got {o.max_calls_per_token}")
    need(isinstance(o.max_public_streams, int) and o.max_public_streams >= 1, "--max-public-streams",
         f"must be >= 1, got {o.max_public_streams}")
    need(o.isolation in ISOLATIONS, "--isolation", f"must be one of {', '.join(ISOLATIONS)}, got {o.isolation!r}")
    if (o.tls_cert is None) != (o.tls_key is None):
        raise InvalidInputError("TLS needs both --tls-cert and --tls-key", field="--tls-cert")


def read_tokens(path) -> list[str]:
    """One token per non-empty line (lines starting with # are comments)."""
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInputError(f"cannot read token file {p}: {getattr(e, 'strerror', None) or e}",
                                field="--token-file") from None
    tokens = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not tokens:
        raise InvalidInputError(f"token file {p} holds no token", field="--token-file")
    if any(len(t) < 8 for t in tokens):
        raise InvalidInputError(f"token file {p}: tokens must be at least 8 characters", field="--token-file")
    if any(any(c.isspace() for c in t) for t in tokens):
        raise InvalidInputError(f"token file {p}: a token contains white space", field="--token-file")
    return tokens


def read_tls(cert: Path, key: Path) -> tuple[bytes, bytes]:
    """PEM certificate chain and key, checked to load and to match: one error naming the file and what is wrong."""
    try:
        cert_b, key_b = Path(cert).read_bytes(), Path(key).read_bytes()
    except OSError as e:
        flag = "--tls-key" if str(e.filename) == str(key) else "--tls-cert"
        raise InvalidInputError(f"{flag} {e.filename}: cannot read it ({e.strerror})", field=flag) from None
    if b"-----BEGIN CERTIFICATE-----" not in cert_b:
        what = "is a private key, not a certificate" if b"PRIVATE KEY-----" in cert_b else \
            "is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' block)"
        raise InvalidInputError(f"--tls-cert {cert}: {what}", field="--tls-cert")
    try:  # the certificate alone: does its PEM block decode to an X.509 certificate?
        ssl._ssl._test_decode_cert(str(cert))  # CPython's decoder (used by its own test suite); no key needed
    except ssl.SSLError as e:
        raise InvalidInputError(f"--tls-cert {cert}: not a usable PEM certificate (its PEM block does not decode to "
                                f"an X.509 certificate: {e})",
                                field="--tls-cert") from None
    except AttributeError:  # another Python: the pair check below still names what fails
        pass
    if b"PRIVATE KEY-----" not in key_b:
        what = "is a certificate, not a private key" if b"-----BEGIN CERTIFICATE-----" in key_b else \
            "is not a PEM private key (no '-----BEGIN ... PRIVATE KEY-----' block)"
        raise InvalidInputError(f"--tls-key {key}: {what}", field="--tls-key")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(cert), str(key))
    except ssl.SSLError as e:
        reason = str(getattr(e, "reason", None) or e)
        if "MISMATCH" in reason.upper():
            raise InvalidInputError(f"--tls-key {key}: does not match the certificate {cert} (key values mismatch)",
                                    field="--tls-key") from None
        raise InvalidInputError(f"--tls-key {key}: not a usable PEM private key for {cert} ({reason})",
                                field="--tls-key") from None
    except (OSError, ValueError) as e:
        raise InvalidInputError(f"--tls-cert {cert} / --tls-key {key}: {e}", field="--tls-cert") from None
    return cert_b, key_b


def _wrap_handler(handler, *, unary_unary=None, unary_stream=None, stream_unary=None, stream_stream=None):
    kw = dict(request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(stream_stream, **kw)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(stream_unary, **kw)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(unary_stream, **kw)
    return grpc.unary_unary_rpc_method_handler(unary_unary, **kw)


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):
    """Checks ``authorization: Bearer <token>`` call metadata (scheme case-insensitive); UNAUTHENTICATED otherwise."""

    def __init__(self, tokens, public_prefixes=PUBLIC_PREFIXES):
        self._tokens = [t.encode() for t in tokens]
        self._public = tuple(public_prefixes)

    def _ok(self, metadata) -> bool:
        got = bearer_token(metadata)
        if got is None:
            return False
        got_b = got.encode()
        # compare against every token (no early exit on the first match)
        return sum(hmac.compare_digest(got_b, t) for t in self._tokens) > 0

    async def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method or ""
        md = handler_call_details.invocation_metadata
        if method.startswith(self._public) or self._ok(md):
            return await continuation(handler_call_details)
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        has_md = any(k == "authorization" for k, _ in md or ())
        msg = "invalid token" if has_md else "missing token: send metadata 'authorization: Bearer <token>'"

        async def deny(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, msg)

        return _wrap_handler(handler, unary_unary=deny, unary_stream=deny, stream_unary=deny, stream_stream=deny)


class PublicStreamLimiter(grpc.aio.ServerInterceptor):
    """Health Watch and reflection streams: at most ``limit`` open, each ending when idle or too old."""

    def __init__(self, limit: int, idle_s: float, lifetime_s: float, prefixes=PUBLIC_PREFIXES):
        self.limit, self.idle_s, self.lifetime_s, self.prefixes = limit, idle_s, lifetime_s, prefixes
        self.open = 0

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None or not method.startswith(self.prefixes) or not (
                handler.request_streaming or handler.response_streaming):
            return handler
        behavior = handler.stream_stream or handler.unary_stream
        limiter = self

        async def idle(it, context):
            ait = it.__aiter__()
            while True:
                try:
                    msg = await asyncio.wait_for(ait.__anext__(), limiter.idle_s)
                except StopAsyncIteration:
                    return
                except asyncio.TimeoutError:
                    await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                        f"no request for {limiter.idle_s:g} s (idle timeout)")
                yield msg

        async def run(request, context):
            if limiter.open >= limiter.limit:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                    f"{limiter.open} health/reflection streams are open (limit {limiter.limit})")
            limiter.open += 1
            try:
                req = idle(request, context) if handler.request_streaming else request
                if inspect.isasyncgenfunction(behavior):
                    async def pump():
                        async for resp in behavior(req, context):
                            await context.write(resp)
                    await asyncio.wait_for(pump(), limiter.lifetime_s)
                else:
                    await asyncio.wait_for(behavior(req, context), limiter.lifetime_s)
            except asyncio.TimeoutError:
                await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                    f"stream open for {limiter.lifetime_s:g} s (limit); reconnect")
            finally:
                limiter.open -= 1

        return _wrap_handler(handler, unary_stream=run, stream_stream=run)


class _Malformed:
    """What a request that does not parse turns into (the handler answers INVALID_ARGUMENT)."""

    def __init__(self, error: Exception):
        self.error = error


class DecodeGuard(grpc.aio.ServerInterceptor):
    """Request bytes that are not the method's message: INVALID_ARGUMENT naming the type, not UNKNOWN + a traceback."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        decode = handler.request_deserializer
        behavior = (handler.unary_unary or handler.unary_stream or handler.stream_unary or handler.stream_stream)
        method = handler_call_details.method or ""

        def safe_decode(b):
            try:
                return decode(b)
            except Exception as e:  # noqa: BLE001 - protobuf DecodeError and friends
                return _Malformed(e)

        async def refuse(context):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"request bytes are not a valid message for {method}")

        async def checked(it, context):
            async for msg in it:
                if isinstance(msg, _Malformed):
                    await refuse(context)
                yield msg

        async def run(request, context):
            if handler.request_streaming:
                request = checked(request, context)
            elif isinstance(request, _Malformed):
                await refuse(context)
            if inspect.isasyncgenfunction(behavior):
                async for resp in behavior(request, context):
                    await context.write(resp)
                return None
            return await behavior(request, context)

        kw = dict(request_deserializer=safe_decode, response_serializer=handler.response_serializer)
        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(run, **kw)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(run, **kw)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(run, **kw)
        return grpc.unary_unary_rpc_method_handler(run, **kw)


class _Loop:
    """An asyncio event loop on its own thread."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="articulate-grpc-loop", daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


class RunningServer:
    """A started server: ``port``, ``servicer``, ``health`` and a graceful ``shutdown``."""

    def __init__(self, loop: _Loop, server, port, servicer, health, options, sweeper, public):
        self._loop, self.server, self.port, self.servicer, self.health, self.options = (
            loop, server, port, servicer, health, options)
        self.public = public  # the PublicStreamLimiter (open health-watch/reflection streams: .open)
        self._sweeper = sweeper
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    @property
    def target(self) -> str:
        host = self.options.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def cancel_all(self, message: str = "server stopped") -> int:
        return self.servicer.queue.cancel_all(message)

    def shutdown(self, grace: float = 30.0) -> None:
        """Health NOT_SERVING, no new jobs, in-flight jobs get ``grace`` seconds to finish, then are cancelled.

        Cancelled jobs' worker processes are killed at once; their streams still get their final event.
        """
        with self._lock:
            if self._stopped.is_set():
                return
            q = self.servicer.queue
            log.info("shutting down: health NOT_SERVING, draining %d jobs (grace %.0f s)", q.in_flight, grace)
            try:
                self._loop.run(self.health.enter_graceful_shutdown(), 5)
            except Exception:  # noqa: BLE001 - the loop may already be gone
                pass
            self.servicer.closing = True
            q.close()
            if not q.drain(grace):
                n = q.cancel_all()
                log.warning("grace period over: cancelled %d jobs", n)
                q.drain(5.0)
            try:
                self._sweeper.cancel()
                # streams get a moment to deliver their final events
                self._loop.run(self.server.stop(2.0), 15)
            except Exception:  # noqa: BLE001
                log.exception("stopping the gRPC server")
            q.join(2.0)
            self.servicer.close()
            self._loop.close()
            self._stopped.set()

    def wait(self) -> None:
        self._stopped.wait()


def _reflection_v1_handler(servicer):
    """grpc.reflection.v1 is wire-identical to v1alpha: serve the same servicer under the v1 name."""
    from grpc_reflection.v1alpha import reflection_pb2 as rpb
    return grpc.method_handlers_generic_handler(REFLECTION_V1, {
        "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
            servicer.ServerReflectionInfo, request_deserializer=rpb.ServerReflectionRequest.FromString,
            response_serializer=rpb.ServerReflectionResponse.SerializeToString)})


def _servicer(o: ServerOptions, articulator, tls) -> ArticulateServicer:
    cfg = ServiceConfig(workers=o.workers, queue_capacity=o.queue_capacity, max_receive_bytes=o.max_message_bytes,
                        max_send_bytes=o.max_message_bytes, chunk_bytes=min(o.chunk_bytes, o.max_message_bytes // 2),
                        max_upload_bytes=o.max_upload_bytes, upload_store_bytes=o.upload_store_bytes,
                        upload_ttl_s=o.upload_ttl_s, idle_timeout_s=o.idle_timeout_s, max_calls=o.max_calls,
                        max_calls_per_token=o.max_calls_per_token, isolation=o.isolation,
                        auth_required=bool(o.tokens), tls=tls is not None)
    return ArticulateServicer(articulator, cfg, JobQueue(cfg.workers, cfg.queue_capacity, isolation=o.isolation))


async def _start(o: ServerOptions, servicer: ArticulateServicer, tls: tuple[bytes, bytes] | None):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_health.v1._async import HealthServicer
    from grpc_reflection.v1alpha import reflection_pb2_grpc
    from grpc_reflection.v1alpha._async import ReflectionServicer

    public = PublicStreamLimiter(o.max_public_streams, o.idle_timeout_s, o.public_stream_s)
    interceptors = [public, DecodeGuard()]
    if o.tokens:
        interceptors.insert(0, TokenAuthInterceptor(o.tokens))
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[("grpc.max_receive_message_length", o.max_message_bytes),
                 ("grpc.max_send_message_length", o.max_message_bytes),
                 ("grpc.so_reuseport", 0),
                 # connections that go quiet are probed and closed (half-open clients)
                 ("grpc.keepalive_time_ms", 60_000), ("grpc.keepalive_timeout_ms", 20_000),
                 ("grpc.http2.max_pings_without_data", 0)],
    )
    sgrpc.add_ArticulateServiceServicer_to_server(servicer, server)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    names = (SERVICE_NAME, HEALTH_SERVICE, REFLECTION_V1, REFLECTION_V1ALPHA)
    refl = ReflectionServicer(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(refl, server)
    server.add_generic_rpc_handlers((_reflection_v1_handler(refl),))
    address = f"[{o.host}]:{o.port}" if ":" in o.host else f"{o.host}:{o.port}"
    try:
        if tls is not None:
            port = server.add_secure_port(address, grpc.ssl_server_credentials([(tls[1], tls[0])]))
        else:
            port = server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if not port:
        servicer.close()
        servicer.queue.join(1.0)
        raise InvalidInputError(f"cannot listen on {address}: the port is in use or the address is not "
                                f"available here", field="--port")
    await server.start()
    for name in ("", SERVICE_NAME):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def sweep():
        while True:
            await asyncio.sleep(5.0)
            servicer.uploads.sweep()
    sweeper = asyncio.get_running_loop().create_task(sweep())
    return server, port, servicer, health, sweeper, public


def _check_port_free(host: str, port: int) -> None:
    """A port another process listens on: one clear error before gRPC logs its own."""
    import errno
    import socket
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise InvalidInputError(f"cannot resolve --host {host}: {e.strerror}", field="--host") from None
    for family, kind, proto, _, addr in infos[:1]:
        with socket.socket(family, kind, proto) as s:
            try:
                s.bind(addr)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise InvalidInputError(f"cannot listen on {host}:{port}: the port is in use", field="--port") from None
                raise InvalidInputError(f"cannot listen on {host}:{port}: {e.strerror}", field="--host") from None


def start_server(options: ServerOptions | None = None, *, articulator=None) -> RunningServer:
    o = options or ServerOptions()
    validate_options(o)
    _check_port_free(o.host, o.port)
    tls = read_tls(o.tls_cert, o.tls_key) if o.tls_cert is not None else None
    install_warning_relay()
    tune_malloc()
    servicer = _servicer(o, articulator, tls)  # here, not on the event loop: it imports the SDK's task modules
    loop = _Loop()
    try:
        server, port, servicer, health, sweeper, public = loop.run(_start(o, servicer, tls), 60)
    except BaseException:
        loop.close()
        raise
    local = ("127.0.0.1", "localhost", "::1")
    if o.host not in local and not o.tokens:
        log.warning("serving on %s without --token-file: anyone who can reach the port can run jobs", o.host)
    if o.host not in local and o.tokens and tls is None:
        log.warning("tokens travel in clear text without TLS (--tls-cert/--tls-key)")
    log.info("articulate serve: %s on %s:%d (auth %s, tls %s, jobs in %ss)", SERVICE_NAME, o.host, port,
             "on" if o.tokens else "off", "on" if tls else "off", o.isolation)
    return RunningServer(loop, server, port, servicer, health, o, sweeper, public)


def serve(options: ServerOptions, *, grace: float = 30.0, ready=None) -> int:
    """Run until SIGTERM/SIGINT, then shut down gracefully (exit code 0). ``ready(running)`` is called once bound.

    A second signal during the shutdown cancels the in-flight jobs at once.
    """
    running = start_server(options)
    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set():
            log.warning("second signal: cancelling in-flight jobs")
            running.cancel_all("server stopped")
        stop.set()
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        if ready is not None:
            ready(running)
        while not stop.wait(0.5):
            pass
        # the shutdown runs on its own thread so that a second signal (handled here) can cut it short
        t = threading.Thread(target=running.shutdown, args=(grace,), name="articulate-shutdown")
        t.start()
        while t.is_alive():
            t.join(0.2)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 0
