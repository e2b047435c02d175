"""Bad requests get the right status (and an in-band final event naming the field); the server keeps serving."""
from __future__ import annotations

import time

import grpc
import numpy as np
import pytest

from sdk.client import RemoteArticulator, RemoteError
from sdk.errors import InvalidInputError
from sdk import wire as convert
from sdk.server.gen.articulate.services.v1 import articulate_service_pb2 as spb
from sdk.server.server import ServerOptions, start_server

from .conftest import TOKEN, still_serving, wait_idle

MD = (("authorization", f"Bearer {TOKEN}"),)


def rig_call(client, req, timeout=60):
    """Events received and the RpcError that ended the stream (None if OK)."""
    events = []
    try:
        for ev in client.stub.Rig(req, metadata=MD, timeout=timeout):
            events.append(ev)
    except grpc.RpcError as e:
        return events, e
    return events, None


def field_of(err: grpc.RpcError) -> str | None:
    return dict(err.trailing_metadata() or ()).get("articulate-field")


def tiny_request(rigged, **mesh_kw):
    asset, parts = rigged["RiggedFigure"]
    m = convert.mesh_to_proto(asset.mesh, precision="f32")
    for k, v in mesh_kw.items():
        setattr(m, k, v)
    return spb.RigRequest(input=spb.MeshInput(mesh=m), parts=convert.parts_to_proto(parts))


@pytest.mark.parametrize("case,field", [
    ("truncated_vertices", "input.mesh.vertices_f32le"),
    ("truncated_faces", "input.mesh.faces_u32le"),
    ("nan_vertex", "input.mesh.vertices[5]"),
    ("inf_vertex", "input.mesh.vertices[0]"),
    ("face_out_of_range", "input.mesh.faces[3]"),
    ("no_vertices", "input.mesh.vertices"),
    ("label_out_of_range", "parts.labels[7]"),
    ("labels_wrong_length", "parts.labels"),
    ("empty_part", "parts.names[1]"),
    ("duplicate_part_name", "parts.names[1]"),
    ("unknown_root_part", "root"),
    ("unknown_method", "method"),
    ("too_many_influences", "max_influences"),
    ("bad_quantize_bits", "quantize_bits"),
    ("urdf_for_a_rig", "export.formats[1]"),
    ("unknown_upload", "input.upload_id"),
])
def test_invalid_argument_names_the_field(client, rigged, case, field):
    asset, parts = rigged["RiggedFigure"]
    req = tiny_request(rigged)
    v = asset.mesh.vertices.astype(np.float32)
    if case == "truncated_vertices":
        req.input.mesh.vertices_f32le = req.input.mesh.vertices_f32le[:-5]
    elif case == "truncated_faces":
        req.input.mesh.faces_u32le = req.input.mesh.faces_u32le[:-1]
    elif case == "nan_vertex":
        v[5, 1] = np.nan
        req.input.mesh.vertices_f32le = v.tobytes()
    elif case == "inf_vertex":
        v[0, 0] = np.inf
        req.input.mesh.vertices_f32le = v.tobytes()
    elif case == "face_out_of_range":
        f = asset.mesh.faces.astype(np.uint32).copy()
        f[3, 2] = len(v) + 10
        req.input.mesh.faces_u32le = f.tobytes()
    elif case == "no_vertices":
        req.input.mesh.ClearField("vertices_f32le")
    elif case == "label_out_of_range":
        lab = parts.labels.astype(np.int32).copy()
        lab[7] = parts.n_parts + 3
        req.parts.labels_i32le = lab.tobytes()
    elif case == "labels_wrong_length":
        req.parts.labels_i32le = req.parts.labels_i32le[:-4]
    elif case == "empty_part":
        lab = parts.labels.astype(np.int32).copy()
        lab[lab == 1] = 0
        req.parts.labels_i32le = lab.tobytes()
    elif case == "duplicate_part_name":
        req.parts.names[1] = req.parts.names[0]
    elif case == "unknown_root_part":
        req.root = "no_such_part"
    elif case == "unknown_method":
        req.method = "magic"
    elif case == "too_many_influences":
        req.max_influences = 1000
    elif case == "bad_quantize_bits":
        req.quantize_bits = 12
    elif case == "urdf_for_a_rig":
        req.export.formats.extend([spb.EXPORT_FORMAT_USDA, spb.EXPORT_FORMAT_URDF])
    elif case == "unknown_upload":
        req.input.ClearField("mesh")
        req.input.upload_id = "0123456789abcdef"
    events, err = rig_call(client, req)
    assert err is not None and err.code() == grpc.StatusCode.INVALID_ARGUMENT, (case, err)
    assert field_of(err) == field
    assert field in err.details()
    # the in-band final status came first and says the same
    assert [e.WhichOneof("event") for e in events] == ["final"]
    assert events[0].final.code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and events[0].final.field == field
    assert client.health() == "SERVING"


def test_client_raises_invalid_input_error_with_field(client, rigged):
    asset, parts = rigged["RiggedFigure"]
    labels = parts.labels.copy()
    labels[labels == 2] = 0  # part 2 becomes empty -> the local check already names it
    with pytest.raises(InvalidInputError) as e:
        client.rig(asset.mesh, labels)
    assert e.value.field is not None
    # a server-side check comes back as the same exception type with the request field
    with pytest.raises(InvalidInputError) as e:
        client.rig(asset.mesh, parts, method="magic")
    assert e.value.field == "method"


def test_malformed_request_bytes(server, client, rigged):
    """Bytes that are not a RigRequest at all: the server answers and keeps serving."""
    rpc = client.channel.unary_stream("/articulate.services.v1.ArticulateService/Rig",
                                      request_serializer=lambda b: b, response_deserializer=spb.JobEvent.FromString)
    for junk in (b"\xff\xff\xff\xff", b"\x0a\x05\x0a\x03abc", b"\x12" + b"\x80" * 12):
        with pytest.raises(grpc.RpcError) as e:
            list(rpc(junk, metadata=MD, timeout=10))
        assert e.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL)
    still_serving(client, rigged)


@pytest.mark.parametrize("token", [None, "wrong-token-000000"])
def test_missing_or_wrong_token(server, rigged, token):
    bad = RemoteArticulator(server.target, token=token, timeout=30)
    asset, parts = rigged["RiggedFigure"]
    try:
        for call in (lambda: bad.rig(asset.mesh, parts), bad.server_info,
                     lambda: bad.upload(b"x" * 100, filename="x.obj"), lambda: bad.job("abc")):
            with pytest.raises(RemoteError) as e:
                call()
            assert e.value.code == grpc.StatusCode.UNAUTHENTICATED
            assert ("missing" if token is None else "invalid") in str(e.value)
        assert bad.health() == "SERVING"  # health answers without a token
    finally:
        bad.close()


def test_unknown_part_for_articulation(client, rigged):
    asset, parts = rigged["RiggedFigure"]
    req = spb.ArticulatePartsRequest(input=spb.MeshInput(mesh=convert.mesh_to_proto(asset.mesh)),
                                     parts=convert.parts_to_proto(parts),
                                     prompts=[spb.PartPrompt(part=parts.names[0], prompt="lift"),
                                              spb.PartPrompt(part="no_such_part", prompt="open")])
    with pytest.raises(grpc.RpcError) as e:
        list(client.stub.ArticulateParts(req, metadata=MD, timeout=30))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(e.value) == "prompts[1].part"
    assert "no_such_part" in e.value.details()


def test_upload_checks(client):
    with pytest.raises(InvalidInputError) as e:
        def chunks():
            yield spb.UploadChunk(header=spb.UploadHeader(filename="a.obj", total_size=6))
            yield spb.UploadChunk(data=b"abcdef")
            yield spb.UploadChunk(end=spb.UploadEnd(sha256="00" * 32))
        try:
            client.stub.Upload(chunks(), metadata=MD, timeout=10)
        except grpc.RpcError as err:
            from sdk.client import _from_rpc_error
            raise _from_rpc_error(err) from None
    assert e.value.field == "end.sha256"
    # a garbage .glb is reported as the upload's problem, not a server error
    uid = client.upload(b"glTF" + b"\0" * 64, filename="broken.glb")
    req = spb.RigRequest(input=spb.MeshInput(upload_id=uid), part_source=spb.PART_SOURCE_SKIN)
    events, err = rig_call(client, req)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and field_of(err) == "input.upload_id"
    # a mesh upload that is not a Mesh message
    uid = client.upload(b"\xff" * 50, filename="m.pb", content_type="application/x-protobuf; message=articulate.rig.v1.Mesh")
    events, err = rig_call(client, spb.RigRequest(input=spb.MeshInput(upload_id=uid)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "not a valid" in err.details()


def test_oversized_message_and_chunked_upload(rigged):
    """Explicit 1.5 MiB limits: an oversized message gets RESOURCE_EXHAUSTED; the client uploads big meshes in chunks."""
    limit = 3 << 19  # 1.5 MiB
    running = start_server(ServerOptions(port=0, max_message_bytes=limit))
    try:
        big = RemoteArticulator(running.target, max_message_bytes=32 << 20, timeout=60)
        asset, parts = rigged["BrainStem"]  # 34k vertices: ~2.3 MB as f64 + faces
        req = spb.RigRequest(input=spb.MeshInput(mesh=convert.mesh_to_proto(asset.mesh)),
                             parts=convert.parts_to_proto(parts))
        assert req.ByteSize() > limit
        with pytest.raises(grpc.RpcError) as e:
            list(big.stub.Rig(req, timeout=30))
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        big.close()
        # the SDK client respects the limit: it uploads the mesh in chunks and references it
        small = RemoteArticulator(running.target, max_message_bytes=limit, chunk_bytes=256 << 10, timeout=120)
        assert small.server_info().max_receive_message_bytes == limit
        rig = small.rig(asset.mesh, parts)
        assert rig.skin.n_vertices == asset.mesh.n_vertices
        assert len(running.servicer.uploads._items) == 1  # it went through Upload
        assert small.health() == "SERVING"
        small.close()
    finally:
        running.shutdown(5)


def _first_job(server, events):
    return server.servicer.queue.get(events[0].job_id)


def test_cancelled_call_stops_the_work(server, client, rigged):
    asset, parts = rigged["BrainStem"]
    req = spb.RigRequest(input=spb.MeshInput(mesh=convert.mesh_to_proto(asset.mesh)), parts=convert.parts_to_proto(parts))
    call = client.stub.Rig(req, metadata=MD, timeout=120)
    events = []
    with pytest.raises(grpc.RpcError) as e:
        for ev in call:
            events.append(ev)
            if ev.WhichOneof("event") == "progress":
                job = _first_job(server, events)
                call.cancel()
    assert e.value.code() == grpc.StatusCode.CANCELLED
    wait_idle(server)
    assert job.state == "cancelled" and job.final.code == grpc.StatusCode.CANCELLED
    assert not any(ev.WhichOneof("event") == "rig" for ev in job.events)  # stopped before a result
    assert job.fn is None  # the work's references are dropped
    still_serving(client, rigged)


def test_expired_deadline_stops_the_work(server, client, rigged, big_tube):
    mesh, parts = big_tube
    req = spb.RigRequest(input=spb.MeshInput(mesh=convert.mesh_to_proto(mesh)), parts=convert.parts_to_proto(parts))
    events = []
    with pytest.raises(grpc.RpcError) as e:
        for ev in client.stub.Rig(req, metadata=MD, timeout=1.5):
            events.append(ev)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    # the job stops a little before the deadline, so its outcome still arrives in band
    assert events and events[-1].WhichOneof("event") == "final", [ev.WhichOneof("event") for ev in events]
    assert events[-1].final.code == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
    assert not any(ev.WhichOneof("event") == "rig" for ev in events)
    wait_idle(server)
    # forgotten: nothing of it is kept (the handler forgets it in its `finally`, which may run just after the
    # client has already seen the deadline, so allow the server a moment)
    end = time.monotonic() + 10
    while server.servicer.queue.get(events[0].job_id) is not None and time.monotonic() < end:
        time.sleep(0.05)
    assert server.servicer.queue.get(events[0].job_id) is None
    still_serving(client, rigged)


def test_queue_full_and_cancel_job(rigged):
    running = start_server(ServerOptions(port=0, workers=1, queue_capacity=1))
    c = RemoteArticulator(running.target, timeout=60)
    try:
        asset, parts = rigged["BrainStem"]
        req, _ = c.rig_request(asset.mesh, parts)
        first = c.submit("rig", req)
        deadline = time.monotonic() + 30
        while c.job(first.job_id).state != spb.JOB_STATE_RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = c.submit("rig", req)
        assert c.job(second.job_id).queue_position == 1
        with pytest.raises(RemoteError) as e:
            c.submit("rig", req)
        assert e.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        # streaming calls share the queue
        with pytest.raises(RemoteError) as e:
            c.rig(asset.mesh, parts)
        assert e.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        # cancel both; watchers see CANCELLED in band and as the status
        for h in (second, first):
            assert c.cancel(h.job_id).job_id == h.job_id
        with pytest.raises(RemoteError) as e:
            c.watch(first.job_id)
        assert e.value.code == grpc.StatusCode.CANCELLED
        assert running.servicer.queue.drain(60)
        assert c.job(second.job_id).state == spb.JOB_STATE_CANCELLED
        with pytest.raises(RemoteError) as e:
            c.job("nope")
        assert e.value.code == grpc.StatusCode.NOT_FOUND
        a2, p2 = rigged["RiggedFigure"]
        assert c.rig(a2.mesh, p2).skin.n_vertices == a2.mesh.n_vertices  # serving again
    finally:
        c.close()
        running.shutdown(5)


def test_finished_job_retention_is_bounded():
    from sdk.server.jobs import Job, JobQueue
    q = JobQueue(workers=1, capacity=100, retain=3, retain_bytes=10_000)
    jobs = [q.submit(Job("t", lambda j: j.emit(blob_chunk=b"x" * 4000))) for _ in range(6)]
    assert q.drain(10)
    q.submit(Job("t", lambda j: None))  # eviction runs on submit
    assert q.drain(10)
    kept = [j for j in jobs if q.get(j.id) is not None]
    assert kept == jobs[-2:]  # 2 x 4 kB + the newest fit in 10 kB; the oldest went first
    q.join()


def test_result_over_the_send_limit_comes_in_chunks(rigged):
    """A result bigger than the server's max message is sent as result_header + result_chunk events (decided when
    the job is planned), and the client reassembles the same rig."""
    running = start_server(ServerOptions(port=0, max_message_bytes=1 << 20))
    try:
        c = RemoteArticulator(running.target, max_message_bytes=1 << 20, chunk_bytes=256 << 10, timeout=120)
        asset, parts = rigged["BrainStem"]  # the rig message is ~1.2 MB
        req, _ = c.rig_request(asset.mesh, parts, include_mesh=True)
        events = list(c.stub.Rig(req, timeout=120))
        kinds = [e.WhichOneof("event") for e in events]
        assert "rig" not in kinds and kinds.count("result_header") == 1 and kinds.count("result_chunk") >= 2
        assert max(e.ByteSize() for e in events) < 1 << 20
        rig = c.rig(asset.mesh, parts)
        from sdk import Articulator
        local = Articulator().rig(asset.mesh, parts)
        np.testing.assert_array_equal(rig.skin.indices, local.skin.indices)
        np.testing.assert_allclose(rig.skin.weights, local.skin.weights, atol=1e-7)
        c.close()
    finally:
        running.shutdown(5)
