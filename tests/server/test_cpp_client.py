"""The C++ client library (engine_bridges/unreal/cpp) built with CMake and run against a real server on loopback.

Built once into build/cpp-client (incremental afterwards); needs Debian's libgrpc++-dev, protobuf-compiler-grpc,
libprotobuf-dev, cmake, g++, pkg-config (.ci/run installs them).
"""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from .conftest import TOKEN

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "engine_bridges" / "unreal" / "cpp"
BUILD = ROOT / "build" / "cpp-client"
TOOLS = ("cmake", "protoc", "grpc_cpp_plugin", "pkg-config", "g++")


@pytest.fixture(scope="module")
def cli():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"C++ toolchain missing ({', '.join(missing)}): apt-get install libgrpc++-dev "
                    f"protobuf-compiler-grpc libprotobuf-dev cmake g++ pkg-config")
    r = subprocess.run(["cmake", "-S", str(SRC), "-B", str(BUILD), "-DCMAKE_BUILD_TYPE=Release"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r = subprocess.run(["cmake", "--build", str(BUILD), "-j2"], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-5000:] + r.stderr[-3000:]
    exe = BUILD / "articulate_cli"
    assert exe.exists()
    return exe


def write_mesh(path: Path, mesh, parts) -> Path:
    v = np.ascontiguousarray(mesh.vertices, dtype="<f8")
    f = np.ascontiguousarray(mesh.faces, dtype="<u4")
    lab = np.ascontiguousarray(parts.labels, dtype="<i4")
    with open(path, "wb") as fh:
        fh.write(struct.pack("<III", len(v), len(f), len(parts.names)))
        fh.write(v.tobytes() + f.tobytes() + lab.tobytes())
        for n in parts.names:
            b = n.encode()
            fh.write(struct.pack("<I", len(b)) + b)
    return path


def run(cli, *args, timeout=300) -> dict:
    r = subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_health(cli, server):
    assert run(cli, "health", "--target", server.target)["health"] == "SERVING"


def test_rig_mesh_matches_the_python_client(cli, server, client, tmp_path):
    from sdk.io import load_asset
    from sdk.articulator import resolve_parts
    a = load_asset(ROOT / "samples" / "critter.obj")
    parts = resolve_parts(a, None)
    mesh_bin = write_mesh(tmp_path / "critter.bin", a.mesh, parts)
    got = run(cli, "rig", "--target", server.target, "--token", TOKEN, "--mesh", str(mesh_bin), "--format", "usda",
              "--format", "glb", "--out-dir", str(tmp_path))
    assert got["code"] == 0 and got["in_band"], got
    assert got["progress_events"] > 0 and got["progress_monotonic"]
    assert set(got["files"]) == {"rig.usda", "rig.glb"}
    rig, files = client.rig_files(a.mesh, parts, formats=["usda", "glb"])
    assert got["joints"] == rig.skeleton.names and got["influences"] == rig.skin.max_influences
    assert got["skin_rows"] == a.mesh.n_vertices
    assert got["weight_sum"] == pytest.approx(float(rig.skin.weights.sum()), rel=1e-6)
    # the USD the C++ client received opens, and is the very file the Python client got
    usda = (tmp_path / "rig.usda").read_bytes()
    assert usda == files["rig.usda"]
    from pxr import Usd, UsdSkel
    stage = Usd.Stage.Open(str(tmp_path / "rig.usda"))
    skel = [UsdSkel.Skeleton(p) for p in stage.Traverse() if p.IsA(UsdSkel.Skeleton)]
    assert len(skel) == 1 and len(skel[0].GetJointsAttr().Get()) == len(rig.skeleton.names)
    assert (tmp_path / "rig.glb").read_bytes()[:4] == b"glTF"


def test_rig_upload_of_an_asset_file(cli, server, tmp_path):
    got = run(cli, "rig-upload", "--target", server.target, "--token", TOKEN, "--file",
              str(ROOT / "samples" / "critter.obj"), "--format", "usdc", "--out-dir", str(tmp_path))
    assert got["code"] == 0 and len(got["joints"]) >= 2
    assert (tmp_path / "rig.usdc").read_bytes()[:8] == b"PXR-USDC"


def test_errors_cancel_and_deadline(cli, server, tmp_path, big_tube):
    from sdk.core import Mesh, PartLabels
    bad = write_mesh(tmp_path / "bad.bin", Mesh(np.zeros((3, 3)), np.array([[0, 1, 5]])),
                     PartLabels(np.zeros(3, int), ["a"]))
    got = run(cli, "rig", "--target", server.target, "--token", TOKEN, "--mesh", str(bad))
    assert got["code"] == 3 and got["field"] == "input.mesh.faces[0]" and got["in_band"]
    got = run(cli, "rig", "--target", server.target, "--token", "wrong-token-123", "--mesh", str(bad))
    assert got["code"] == 16  # UNAUTHENTICATED
    mesh, parts = big_tube
    tube = write_mesh(tmp_path / "tube.bin", mesh, parts)
    got = run(cli, "rig", "--target", server.target, "--token", TOKEN, "--mesh", str(tube), "--cancel-after-progress", "2")
    assert got["code"] == 1 and got["progress_events"] >= 2  # CANCELLED by the caller
    got = run(cli, "rig", "--target", server.target, "--token", TOKEN, "--mesh", str(tube), "--deadline-ms", "1500")
    assert got["code"] == 4, got  # DEADLINE_EXCEEDED
    assert server.servicer.queue.drain(10)


def test_articulate_prop(cli, server, client, tmp_path, shared_data):
    from sdk.io.urdf import load_urdf
    asset = load_urdf(shared_data / "articulated/genesis_3763/mobility.urdf")
    mesh_bin = write_mesh(tmp_path / "prop.bin", asset.mesh, asset.parts)
    part = asset.parts.names[-1]
    got = run(cli, "prop", "--target", server.target, "--token", TOKEN, "--mesh", str(mesh_bin), "--part", part)
    ref = client.articulate(asset, part)
    assert got["code"] == 0, got
    assert [(j["name"], j["type"], j["child"]) for j in got["joints"]] == [(j.name, j.type, j.child) for j in ref.joints]
    for a, b in zip(got["joints"], ref.joints):
        np.testing.assert_allclose(a["axis"], b.axis, atol=1e-5)
