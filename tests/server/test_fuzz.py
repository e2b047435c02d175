"""Fuzzing the request decoding + validation path (hypothesis, >= 2,000 cases per run).

Every request, however broken, must either decode into a valid plan or raise InvalidInputError
naming a field; nothing else (no IndexError, no numpy error, no crash). The job functions are
never run here: this is the cheap path every request takes before any heavy work.
"""
from __future__ import annotations

import collections

import grpc
import numpy as np
import pytest
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdk.errors import InvalidInputError
from sdk import wire as convert
from sdk.server.gen.articulate.rig.v1 import rig_pb2 as pb
from sdk.server.gen.articulate.services.v1 import articulate_service_pb2 as spb
from sdk.server.service import (ServiceConfig, UploadStore, plan_articulate, plan_rig, plan_rig_from_motion)

from .conftest import TOKEN

CASES: collections.Counter = collections.Counter()
OUTCOMES: collections.Counter = collections.Counter()
CFG = ServiceConfig()
UPLOADS = UploadStore(1 << 20, 60)
FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PLANNERS = {spb.RigRequest: plan_rig, spb.ArticulatePartsRequest: plan_articulate,
            spb.RigFromMotionRequest: plan_rig_from_motion}


def decode_and_plan(cls, raw: bytes, test: str) -> str:
    CASES[test] += 1
    try:
        req = cls.FromString(raw)
    except DecodeError:
        OUTCOMES["decode error"] += 1
        return "decode error"
    return plan(req, test, count=False)


def plan(req, test: str, count: bool = True) -> str:
    if count:
        CASES[test] += 1
    try:
        PLANNERS[type(req)](req, articulator=None, uploads=UPLOADS, cfg=CFG)
    except InvalidInputError as e:
        assert e.field, f"InvalidInputError without a field: {e}"
        OUTCOMES["invalid argument"] += 1
        return "invalid"
    except NotImplementedError as e:  # e.g. an export writer not in this build -> UNIMPLEMENTED
        assert "not available" in str(e)
        OUTCOMES["unimplemented"] += 1
        return "unimplemented"
    OUTCOMES["valid plan"] += 1
    return "ok"


# ------------------------------------------------------------------ raw bytes

@settings(FUZZ, max_examples=600)
@given(cls=st.sampled_from(list(PLANNERS)), raw=st.binary(max_size=512))
def test_fuzz_raw_bytes(cls, raw):
    decode_and_plan(cls, raw, "raw")


def _valid_small() -> bytes:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(12, 3))
    f = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8], [8, 9, 10], [9, 10, 11], [1, 3, 5]])
    lab = np.array([0] * 6 + [1] * 6)
    req = spb.RigRequest(input=spb.MeshInput(mesh=convert.mesh_to_proto(convert.Mesh(v, f), precision="f32")),
                         parts=pb.PartLabels(labels_i32le=lab.astype("<i4").tobytes(), names=["a", "b"]))
    return req.SerializeToString()


VALID = _valid_small()


def test_the_seed_request_is_valid():
    assert plan(spb.RigRequest.FromString(VALID), "seed") == "ok"


@settings(FUZZ, max_examples=500)
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255), st.sampled_from("sdi")),
                      min_size=1, max_size=6),
       cut=st.integers(0, len(VALID)))
def test_fuzz_mutated_valid_request(edits, cut):
    b = bytearray(VALID)
    for pos, val, op in edits:
        pos = min(pos, len(b) - 1) if b else 0
        if op == "s" and b:
            b[pos] = val
        elif op == "d" and b:
            del b[pos]
        else:
            b.insert(pos, val)
    decode_and_plan(spb.RigRequest, bytes(b[:cut] if cut < len(b) and cut % 3 == 0 else b), "mutated")


# ------------------------------------------------------------------ structured requests

floats32 = st.floats(width=32, allow_nan=True, allow_infinity=True)


@st.composite
def meshes(draw):
    V = draw(st.integers(0, 24))
    coords = draw(st.lists(floats32, min_size=3 * V, max_size=3 * V))
    v = np.asarray(coords, dtype=np.float32).reshape(-1, 3)
    F = draw(st.integers(0, 20))
    f = np.asarray(draw(st.lists(st.integers(0, V + 2), min_size=3 * F, max_size=3 * F)), dtype=np.uint32)
    m = pb.Mesh(name=draw(st.text(max_size=8)))
    enc = draw(st.sampled_from(["f32", "f64", "list", "none"]))
    if enc == "f32":
        m.vertices_f32le = v.astype("<f4").tobytes()[: draw(st.integers(0, 12 * V + 1))]
    elif enc == "f64":
        m.vertices_f64le = v.astype("<f8").tobytes()
    elif enc == "list":
        m.vertices.values.extend(coords + draw(st.lists(floats32, max_size=2)))
    fenc = draw(st.sampled_from(["bytes", "list", "none"]))
    if fenc == "bytes":
        m.faces_u32le = f.astype("<u4").tobytes()[: draw(st.integers(0, 12 * F + 1))]
    elif fenc == "list":
        m.faces.values.extend(f.tolist())
    if draw(st.booleans()):
        m.uvs_f32le = draw(st.binary(max_size=8 * V + 4))
    return m, V


@st.composite
def part_labels(draw, V):
    P = draw(st.integers(0, 5))
    lab = draw(st.lists(st.integers(-2, P + 1), min_size=max(V + draw(st.integers(-1, 1)), 0),
                        max_size=max(V + 1, 0)))
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "", "a" * 300, "arm", "leg"]), max_size=P))
    p = pb.PartLabels(names=names)
    if draw(st.booleans()):
        p.labels_i32le = np.asarray(lab, dtype="<i4").tobytes()
    else:
        p.values.values.extend(lab)
    return p


@settings(FUZZ, max_examples=700)
@given(data=st.data())
def test_fuzz_structured_rig_requests(data):
    m, V = data.draw(meshes())
    req = spb.RigRequest(method=data.draw(st.sampled_from(["", "harmonic", "heat", "magic"])),
                         max_influences=data.draw(st.integers(0, 40)), max_bones=data.draw(st.integers(0, 9)),
                         root=data.draw(st.sampled_from(["", "0", "1", "7", "a", "zz"])),
                         quantize_bits=data.draw(st.sampled_from([0, 8, 12, 16])),
                         include_mesh=data.draw(st.booleans()))
    if data.draw(st.integers(0, 9)):
        req.input.mesh.CopyFrom(m)
    elif data.draw(st.booleans()):
        req.input.upload_id = data.draw(st.text(max_size=20))
    if data.draw(st.integers(0, 5)):
        req.parts.CopyFrom(data.draw(part_labels(V)))
    req.part_source = data.draw(st.integers(0, 4))
    req.export.formats.extend(data.draw(st.lists(st.integers(0, 6), max_size=3)))
    req.export.up_axis = data.draw(st.sampled_from(["", "Y", "Z", "X", "up"]))
    req.export.meters_per_unit = data.draw(st.sampled_from([0.0, 1.0, 0.01, -1.0, float("nan"), float("inf")]))
    plan(req, "structured rig")
    # the same request through the wire encoding must behave the same
    assert plan(spb.RigRequest.FromString(req.SerializeToString()), "structured rig (re-encoded)") in (
        "ok", "invalid")


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_fuzz_structured_articulate_requests(data):
    m, V = data.draw(meshes())
    req = spb.ArticulatePartsRequest(input=spb.MeshInput(mesh=m), parts=data.draw(part_labels(V)),
                                     all_parts=data.draw(st.booleans()))
    for _ in range(data.draw(st.integers(0, 3))):
        req.prompts.add(part=data.draw(st.sampled_from(["a", "b", "0", "3", "", "nope"])),
                        prompt=data.draw(st.text(max_size=30)))
    req.export.formats.extend(data.draw(st.lists(st.integers(0, 5), max_size=2)))
    plan(req, "structured articulate")


@settings(FUZZ, max_examples=300)
@given(T=st.integers(0, 5), V=st.integers(0, 6), data=st.data())
def test_fuzz_structured_motion_requests(T, V, data):
    vals = data.draw(st.lists(floats32, min_size=T * V * 3, max_size=T * V * 3))
    s = pb.MotionSequence(frame_count=data.draw(st.sampled_from([T, T + 1, 0, 2**31])),
                          vertex_count=data.draw(st.sampled_from([V, V + 1, 0])),
                          fps=data.draw(st.sampled_from([0.0, 30.0, -1.0, float("nan")])))
    raw = np.asarray(vals, dtype="<f4").tobytes()
    if data.draw(st.booleans()):
        s.frames_f32le = raw[: data.draw(st.integers(0, len(raw)))] if data.draw(st.booleans()) else raw
    if data.draw(st.booleans()):
        s.faces_u32le = np.asarray(data.draw(st.lists(st.integers(0, V + 1), max_size=9)), dtype="<u4").tobytes()
    plan(spb.RigFromMotionRequest(motion=spb.MotionInput(sequence=s), max_influences=data.draw(st.integers(0, 40))),
         "structured motion")


def test_fuzz_case_count():
    """Runs after the fuzz tests above (file order): at least 2,000 requests went through decode + validate."""
    total = sum(CASES.values())
    print(f"\nfuzz cases: {total} {dict(CASES)}; outcomes {dict(OUTCOMES)}")
    assert total >= 2000, dict(CASES)
    assert OUTCOMES["invalid argument"] > 0 and OUTCOMES["valid plan"] > 0


# ------------------------------------------------------------------ over the wire

@settings(FUZZ, max_examples=150)
@given(raw=st.binary(max_size=256))
def test_fuzz_over_the_wire(server, raw):
    """Random bytes sent as a Rig request to the real server: a clean status, never a dead server."""
    with grpc.insecure_channel(server.target) as ch:
        rpc = ch.unary_stream("/articulate.services.v1.ArticulateService/Rig", request_serializer=lambda b: b,
                              response_deserializer=spb.JobEvent.FromString)
        try:
            events = list(rpc(raw, metadata=(("authorization", f"Bearer {TOKEN}"),), timeout=10))
            assert events[-1].final.code == 0
        except grpc.RpcError as e:
            assert e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL), (e.code(), e.details())
            if e.code() == grpc.StatusCode.INTERNAL:
                assert "deserializ" in (e.details() or "").lower()
    CASES["wire"] += 1
