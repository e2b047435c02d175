"""The torch-free client (clients/python) in a fresh venv without torch rigs a sample against a loopback server.

The venv is created once under build/ (pip installs grpcio, protobuf, numpy from PyPI) and the client package is
reinstalled from the working tree on every run.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import TOKEN

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"
VENV = ROOT / "build" / "torch-free-client-venv"

SCRIPT = r"""
import json, sys, threading
import numpy as np
from articulate_client import ArticulateClient, RemoteError
target, token, path, out = sys.argv[1:5]
seen = []
with ArticulateClient(target, token=token, timeout=120) as c:
    health = c.health()
    rig = c.rig_file(path, formats=["usda", "glb"], progress=lambda f, m: seen.append(f))
    np.savez(out + ".npz", idx=rig.skin_indices, w=rig.skin_weights, bind=rig.bind_world)
    open(out + ".usda", "wb").write(rig.files["rig.usda"])
    # a bad request comes back as RemoteError naming the field
    try:
        c.rig(np.zeros((3, 3)), np.array([[0, 1, 5]]), np.zeros(3, int), ["a"])
        field = None
    except RemoteError as e:
        field = e.field
    # cancellation from the caller's side
    stop = threading.Event(); stop.set()
    try:
        c.rig_file(path, cancel=stop)
        cancelled = False
    except RemoteError as e:
        cancelled = e.code.name == "CANCELLED"
print(json.dumps({"health": health, "joints": rig.joint_names, "files": sorted(rig.files), "progress": seen,
                  "torch": "torch" in sys.modules, "sdk": "sdk" in sys.modules, "field": field,
                  "cancelled": cancelled, "glb": rig.files["rig.glb"][:4].decode()}))
"""


def _digest() -> str:
    h = hashlib.sha256()
    for p in sorted(CLIENT.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and ".egg-info" not in str(p):
            h.update(p.relative_to(CLIENT).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def venv_python():
    py = VENV / "bin" / "python"
    if not py.exists():
        VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, timeout=120)
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", str(CLIENT)], capture_output=True, text=True,
                           timeout=600)
        if r.returncode != 0:
            pytest.fail(f"pip install of clients/python failed (needs PyPI): {r.stderr[-2000:]}")
    stamp = VENV / "client.sha256"
    digest = _digest()
    if not stamp.exists() or stamp.read_text() != digest:
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(CLIENT)],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        stamp.write_text(digest)
    return py


def test_venv_has_no_torch(venv_python):
    # from outside the checkout, with no PYTHONPATH: the repo root holds articulate_sdk.egg-info (editable install),
    # which `python -m` would put on sys.path and pip would then list
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(venv_python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                       timeout=120, check=True, cwd=VENV, env=env)
    names = {p["name"].lower() for p in json.loads(r.stdout)}
    assert "articulate-client" in names and "grpcio" in names and "numpy" in names
    assert "torch" not in names and "articulate-sdk" not in names


def test_torch_free_client_rigs_a_sample_remotely(venv_python, server, tmp_path):
    sample = ROOT / "samples" / "critter.obj"
    out = tmp_path / "remote"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    r = subprocess.run([str(venv_python), "-c", SCRIPT, server.target, TOKEN, str(sample), str(out)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["torch"] is False and got["sdk"] is False  # nothing of the SDK (nor torch) in the client process
    assert got["health"] == "SERVING" and got["files"] == ["rig.glb", "rig.usda"] and got["glb"] == "glTF"
    assert got["progress"] and got["progress"][-1] == pytest.approx(1.0)
    assert got["field"] == "input.mesh.faces[0]" and got["cancelled"]
    # the same rig as the SDK in-process
    from sdk import Articulator
    local = Articulator().rig(sample)
    assert got["joints"] == local.skeleton.names
    z = np.load(str(out) + ".npz")
    np.testing.assert_array_equal(z["idx"], local.skin.indices)
    np.testing.assert_allclose(z["w"], local.skin.weights, atol=1e-7)
    np.testing.assert_allclose(z["bind"], local.skeleton.bind_world, atol=1e-12)
    from pxr import Usd, UsdSkel
    stage = Usd.Stage.Open(str(out) + ".usda")
    skel = [UsdSkel.Skeleton(p) for p in stage.Traverse() if p.IsA(UsdSkel.Skeleton)]
    assert len(skel) == 1 and len(skel[0].GetJointsAttr().Get()) == len(local.skeleton.names)


def test_unreal_script_fetches_the_export_from_the_server(venv_python, server, tmp_path):
    """The editor-independent half of engine_bridges/unreal/articulate_unreal.py, in the torch-free venv."""
    script = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import articulate_unreal as ue\n"
        "from articulate_client import ArticulateClient\n"
        "with ArticulateClient(sys.argv[2], token=sys.argv[3]) as c:\n"
        "    out, rig = ue.rig_file_to_glb(c, sys.argv[4], sys.argv[5])\n"
        "print(json.dumps({'out': out, 'joints': len(rig.joint_names), 'torch': 'torch' in sys.modules}))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    r = subprocess.run([str(venv_python), "-c", script, str(ROOT / "engine_bridges" / "unreal"), server.target, TOKEN,
                        str(ROOT / "samples" / "critter.obj"), str(tmp_path)], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert not got["torch"] and got["joints"] >= 2
    from sdk.io import load_asset
    a = load_asset(got["out"])  # the GLB the server exported reads back as a rigged asset
    assert a.rig is not None and a.rig.skeleton.n_joints == got["joints"]
