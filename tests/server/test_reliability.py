"""Faults and load, each bounded to seconds: cancels free memory, idle streams cannot starve health, admission
limits, the upload byte budget, DeleteUpload, deadlines, mid-solve cancellation (the fast subset of
bench/bench_reliability.py)."""
from __future__ import annotations

import os
import threading
import time

import grpc
import numpy as np
import pytest

from sdk.client import RemoteArticulator, RemoteError
from sdk.server import convert
from sdk.server.gen.articulate.services.v1 import articulate_service_pb2 as spb
from sdk.server.gen.articulate.services.v1 import articulate_service_pb2_grpc as sgrpc
from sdk.server.server import ServerOptions, start_server

A, B = "token-a-0123456789", "token-b-0123456789"


def md(token=A, scheme="Bearer"):
    return (("authorization", f"{scheme} {token}"),)


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@pytest.fixture(scope="module")
def tight():
    """A server with small limits so that each one is reached quickly."""
    running = start_server(ServerOptions(port=0, tokens=[A, B], workers=1, queue_capacity=2, max_calls_per_token=6,
                                         max_public_streams=24, idle_timeout_s=4.0, max_upload_bytes=3 << 20,
                                         upload_store_bytes=4 << 20))
    yield running
    running.shutdown(grace=0)


@pytest.fixture(scope="module")
def ch(tight):
    with grpc.insecure_channel(tight.target) as c:
        yield c


def health(channel, timeout=5.0) -> str:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    r = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)


class HalfOpen:
    """A client stream that sends ``first`` messages and then nothing until released."""

    def __init__(self, method, first, metadata=(), timeout=60):
        self.release = threading.Event()

        def gen():
            yield from first
            self.release.wait()
        self.call = method.future(gen(), metadata=metadata, timeout=timeout) if hasattr(method, "future") else None

    def close(self):
        self.release.set()
        self.call.cancel()


def _silent(release):
    release.wait()
    return
    yield  # pragma: no cover - a generator that sends nothing


def upload_header(size, name="m.obj"):
    return spb.UploadChunk(header=spb.UploadHeader(filename=name, total_size=size))


def wait_for(pred, timeout, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def tube(rings=400, segs=250):
    from sdk.procedural.tube import parted_tube
    return parted_tube(rings, segs)


# ---------------------------------------------------------------- memory and cancellation

def test_cancels_free_memory_and_forget_jobs(tight, ch, rigged):
    asset, parts = rigged["BrainStem"]
    req = spb.RigRequest(input=spb.MeshInput(mesh=convert.mesh_to_proto(asset.mesh)), parts=convert.parts_to_proto(parts))
    stub = sgrpc.ArticulateServiceStub(ch)

    def cancel_once():
        call = stub.Rig(req, metadata=md(), timeout=60)
        try:
            for ev in call:
                if ev.WhichOneof("event") == "progress":
                    call.cancel()
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.CANCELLED
    cancel_once()  # warm: the fork server, first imports
    assert tight.servicer.queue.drain(10)
    before = rss_mb()
    for _ in range(8):
        cancel_once()
        t0 = time.monotonic()
        assert tight.servicer.queue.drain(5)
        assert time.monotonic() - t0 < 2.0  # the job's process is gone within 2 s
    assert wait_for(lambda: len(tight.servicer.queue) == 0, 5), "cancelled stream jobs are still held"
    assert not tight.servicer.queue.child_pids()
    assert rss_mb() - before < 50, (before, rss_mb())
    assert health(ch) == "SERVING"


def test_cancel_mid_solve_within_2s_with_final_status(tight, ch):
    """CancelJob during one long harmonic solve: the worker process is killed, watchers get CANCELLED in band."""
    mesh, parts = tube(rings=1200)  # 300k vertices: 100k rigged in ~0.9 s on a quiet 2-core machine
    c = RemoteArticulator(tight.target, token=A, timeout=60)
    req, _ = c.rig_request(mesh, parts)
    h = c.submit("rig", req)
    stub = sgrpc.ArticulateServiceStub(ch)
    watch = stub.WatchJob(spb.WatchJobRequest(job_id=h.job_id, from_start=True), metadata=md(), timeout=60)
    events = []
    try:
        for ev in watch:
            events.append(ev)
            if ev.WhichOneof("event") == "progress" and "weights" in ev.progress.message:
                time.sleep(0.05)  # inside the solve
                t0 = time.monotonic()
                c.cancel(h.job_id)
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.CANCELLED
    took = time.monotonic() - t0
    assert events[-1].WhichOneof("event") == "final" and events[-1].final.code == grpc.StatusCode.CANCELLED.value[0]
    assert took < 2.0, took
    assert not any(e.WhichOneof("event") == "rig" for e in events)
    assert wait_for(lambda: not tight.servicer.queue.child_pids(), 2)
    c.close()


def test_tiny_deadlines(tight, ch, rigged):
    asset, parts = rigged["RiggedFigure"]
    req = spb.RigRequest(input=spb.MeshInput(mesh=convert.mesh_to_proto(asset.mesh)), parts=convert.parts_to_proto(parts))
    stub = sgrpc.ArticulateServiceStub(ch)
    for _ in range(20):
        with pytest.raises(grpc.RpcError) as e:
            list(stub.Rig(req, metadata=md(), timeout=0.001))
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert tight.servicer.queue.drain(5)
    assert wait_for(lambda: tight.servicer.queue.in_flight == 0 and tight.servicer.admission.calls == 0, 5), (
        tight.servicer.queue.in_flight, tight.servicer.admission.calls)
    assert health(ch) == "SERVING"


# ---------------------------------------------------------------- capacity

def test_idle_streams_do_not_starve_health_and_are_timed_out(tight, ch):
    refl = ch.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                            request_serializer=lambda b: b, response_deserializer=lambda b: b)
    stub = sgrpc.ArticulateServiceStub(ch)
    streams = []
    try:
        for _ in range(24):  # the public budget, all idle (nothing sent)
            release = threading.Event()
            it = refl(_silent(release), timeout=30)
            streams.append((release, it))
        uploads = [HalfOpen(stub.Upload, [upload_header(1000)], metadata=md(tok)) for tok in (A, A, B, B)]
        assert wait_for(lambda: tight.public.open == 24 and tight.servicer.admission.calls == 4, 3)
        assert health(ch) == "SERVING"  # health Check is apart from both budgets
        assert RemoteArticulator(tight.target, token=B, timeout=5).server_info().max_calls_per_token == 6
        # one stream past the public budget is refused, not queued
        extra = refl(iter([]), timeout=5)
        with pytest.raises(grpc.RpcError) as e:
            list(extra)
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # silent streams end after the idle timeout (4 s here), the uploads' reserved bytes go back
        for u in uploads:
            with pytest.raises(grpc.RpcError) as e:
                u.call.result(timeout=10)
            assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and "idle" in e.value.details()
        for _, it in streams:
            with pytest.raises(grpc.RpcError) as e:
                next(it)
            assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert wait_for(lambda: tight.servicer.uploads.used == 0, 5)
        assert health(ch) == "SERVING"
    finally:
        for release, it in streams:
            release.set()
            it.cancel()


def test_per_token_limit(tight, ch):
    stub = sgrpc.ArticulateServiceStub(ch)
    held = [HalfOpen(stub.Upload, [upload_header(10)], metadata=md(A)) for _ in range(6)]
    try:
        assert wait_for(lambda: tight.servicer.admission.calls >= 6, 3)
        with pytest.raises(RemoteError) as e:
            RemoteArticulator(tight.target, token=A, timeout=5).server_info()
        assert e.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and "this token" in str(e.value)
        assert RemoteArticulator(tight.target, token=B, timeout=5).server_info().api_version  # B is not affected
    finally:
        for h in held:
            h.close()
    assert wait_for(lambda: tight.servicer.admission.calls == 0, 3)


def test_queue_size_is_reached_by_streaming_calls(tight, ch):
    """workers=1 + queue 2: a fourth concurrent streaming call gets RESOURCE_EXHAUSTED from the job queue."""
    mesh, parts = tube(200, 120)
    c = RemoteArticulator(tight.target, token=B, timeout=60)
    req, _ = c.rig_request(mesh, parts)
    stub = sgrpc.ArticulateServiceStub(ch)
    calls = [stub.Rig(req, metadata=md(B), timeout=60) for _ in range(4)]
    codes = []
    for call in calls:
        try:
            for ev in call:
                if ev.WhichOneof("event") == "final":
                    codes.append(ev.final.code)
                    break
                if ev.WhichOneof("event") == "progress":
                    codes.append(0)
                    break
        except grpc.RpcError as e:
            codes.append(e.code().value[0])
    for call in calls:
        call.cancel()
    assert grpc.StatusCode.RESOURCE_EXHAUSTED.value[0] in codes, codes
    assert tight.servicer.queue.drain(5)
    c.close()


# ---------------------------------------------------------------- uploads

def test_upload_budget_enforced_while_receiving(tight, ch):
    stub = sgrpc.ArticulateServiceStub(ch)
    store = tight.servicer.uploads
    # announced beyond the per-upload limit / the store: refused at the header
    with pytest.raises(grpc.RpcError) as e:
        stub.Upload(iter([upload_header(5 << 20)]), metadata=md(), timeout=5)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    first = HalfOpen(stub.Upload, [upload_header(3 << 20), spb.UploadChunk(data=b"x" * 1000)], metadata=md())
    assert wait_for(lambda: store.used >= 3 << 20, 10)
    assert len(list(store.dir.iterdir())) == 1  # bytes go to disk as they arrive
    with pytest.raises(grpc.RpcError) as e:  # 3 MiB held + 2 MiB announced > 4 MiB
        stub.Upload(iter([upload_header(2 << 20)]), metadata=md(), timeout=5)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "full" in e.value.details()

    # an upload that does not announce its size is stopped once it passes the budget
    def unannounced():
        yield upload_header(0)
        for _ in range(3):
            yield spb.UploadChunk(data=b"y" * (512 << 10))
        yield spb.UploadChunk(end=spb.UploadEnd())
    with pytest.raises(grpc.RpcError) as e:
        stub.Upload(unannounced(), metadata=md(), timeout=5)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    first.close()
    assert wait_for(lambda: store.used == 0 and not list(store.dir.iterdir()), 10), store.used


def test_delete_upload_and_no_path_leak(tight):
    c = RemoteArticulator(tight.target, token=A, timeout=10)
    uid = c.upload(b"glTF" + b"\0" * 64, filename="broken.glb")
    store = tight.servicer.uploads
    path = store.get(uid, "x").path
    req = spb.RigRequest(input=spb.MeshInput(upload_id=uid), part_source=spb.PART_SOURCE_SKIN)
    with pytest.raises(grpc.RpcError) as e:
        list(c.stub.Rig(req, metadata=md(), timeout=10))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    msg = e.value.details()
    assert "broken.glb" in msg and str(store.dir) not in msg and path.name not in msg and "/tmp" not in msg, msg
    assert c.delete_upload(uid) == 68 and not path.exists()
    with pytest.raises(RemoteError) as e2:
        c.delete_upload(uid)
    assert e2.value.code == grpc.StatusCode.NOT_FOUND
    # an upload no RPC can read is kept only briefly
    r = c.stub.Upload(iter([spb.UploadChunk(header=spb.UploadHeader(filename="notes.txt", total_size=3)),
                            spb.UploadChunk(data=b"abc"), spb.UploadChunk(end=spb.UploadEnd())]), metadata=md())
    assert r.expires_in_s <= 60 < tight.servicer.cfg.upload_ttl_s
    c.delete_upload(r.upload_id)
    c.close()


# ---------------------------------------------------------------- protocol details

def test_lowercase_bearer_and_reflection_v1(tight, ch):
    stub = sgrpc.ArticulateServiceStub(ch)
    assert stub.GetServerInfo(spb.GetServerInfoRequest(), metadata=md(A, "bearer"), timeout=5).isolation == "process"
    with pytest.raises(grpc.RpcError) as e:
        stub.GetServerInfo(spb.GetServerInfoRequest(), metadata=md(A, "Basic"), timeout=5)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    from grpc_reflection.v1alpha import reflection_pb2 as rpb
    for version in ("v1", "v1alpha"):
        rpc = ch.stream_stream(f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                               request_serializer=rpb.ServerReflectionRequest.SerializeToString,
                               response_deserializer=rpb.ServerReflectionResponse.FromString)
        out = list(rpc(iter([rpb.ServerReflectionRequest(list_services="")]), timeout=5))
        names = {s.name for s in out[0].list_services_response.service}
        assert {"articulate.services.v1.ArticulateService", "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection"} <= names, (version, names)


def test_serve_flags_are_validated():
    import argparse

    from sdk.cli import serve
    from sdk.errors import InvalidInputError
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    serve.register(sub)
    ok = serve.options_from_args(p.parse_args(["serve", "--max-message-mb", "2048"]))
    assert ok.max_message_bytes == (1 << 31) - 1
    for args, flag in [(["--max-message-mb", "2049"], "--max-message-mb"), (["--max-message-mb", "nan"], "--max-message-mb"),
                       (["--port", "70000"], "--port"), (["--workers", "0"], "--workers"),
                       (["--queue-size", "-1"], "--queue-size"), (["--grace", "-2"], "--grace"),
                       (["--idle-timeout", "0"], "--idle-timeout"), (["--upload-ttl", "inf"], "--upload-ttl"),
                       (["--max-upload-mb", "0"], "--max-upload-mb"), (["--max-calls", "0"], "--max-calls"),
                       (["--max-calls-per-token", "0"], "--max-calls-per-token"), (["--isolation", "fiber"], "--isolation"),
                       (["--host", ""], "--host"), (["--tls-cert", "/nonexistent.pem", "--tls-key", "/x"], "--tls-cert"),
                       (["--upload-store-mb", "10", "--max-upload-mb", "20"], "--upload-store-mb")]:
        with pytest.raises(InvalidInputError) as e:
            serve.options_from_args(p.parse_args(["serve", *args]))
        assert e.value.field == flag and flag in str(e.value), (args, str(e.value))
