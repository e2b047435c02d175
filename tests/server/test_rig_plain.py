"""Issue 11 over gRPC: the Rig RPC rigs a plain character mesh (no parts, no skin) like `Articulator().rig`."""
from __future__ import annotations

import sys
from pathlib import Path

import grpc
import numpy as np
import pytest

from sdk import Articulator
from sdk.errors import InvalidInputError
from sdk.server import service
from sdk.server.gen.articulate.services.v1 import articulate_service_pb2 as spb
from sdk.server.gen.articulate.services.v1 import articulate_service_pb2_grpc as sgrpc

from .conftest import TOKEN

ROOT = Path(__file__).resolve().parents[2]
CHARACTER = ROOT / "samples" / "character.obj"
MD = (("authorization", f"Bearer {TOKEN}"),)


@pytest.fixture(scope="module")
def local_rig():
    return Articulator().rig(str(CHARACTER))


def dense(rig) -> np.ndarray:
    """Skin weights as [V, J]."""
    w = np.zeros((rig.skin.n_vertices, rig.skeleton.n_joints))
    np.put_along_axis(w, rig.skin.indices, rig.skin.weights, 1)
    return w


def test_server_choices_match_autorig():
    from sdk.autorig import PROFILES, TEMPLATE_CHOICES
    assert service.RIG_TEMPLATES == tuple(TEMPLATE_CHOICES)
    assert service.RIG_NAMINGS == tuple(PROFILES)


def test_plain_mesh_remote_matches_local(client, local_rig):
    from sdk.io import load_asset
    assert load_asset(CHARACTER).parts is None  # really a plain mesh
    remote = client.rig(str(CHARACTER))
    local = local_rig
    assert remote.skeleton.names == local.skeleton.names
    assert remote.skeleton.n_joints == local.skeleton.n_joints
    for ue5 in ("root", "pelvis", "spine_01", "clavicle_l", "upperarm_l", "lowerarm_l", "hand_l", "thigh_r", "calf_r",
                "foot_r", "ball_r"):
        assert ue5 in remote.skeleton.names
    np.testing.assert_array_equal(remote.skeleton.parents, local.skeleton.parents)
    np.testing.assert_allclose(remote.skeleton.bind_world, local.skeleton.bind_world, atol=1e-9)
    assert remote.mesh.n_vertices == local.mesh.n_vertices
    np.testing.assert_allclose(remote.mesh.vertices, local.mesh.vertices, atol=1e-9)
    np.testing.assert_allclose(dense(remote), dense(local), atol=1e-6)  # weights travel as f32
    assert remote.metadata["template"] == local.metadata["template"] == "biped"
    assert remote.metadata["naming"] == "ue5"


def test_plain_mesh_naming_profile(client):
    remote = client.rig(str(CHARACTER), template="biped", naming="mixamo", max_influences=2)
    assert remote.skeleton.names[0] == "mixamorig:Hips"
    assert remote.skin.max_influences == 2


def test_no_parts_request_from_torch_free_client(server, local_rig):
    """A request with no parts and no template (as a non-SDK client sends it) is rigged by template embedding."""
    sys.path.insert(0, str(ROOT / "clients" / "python" / "src"))
    try:
        from articulate_client import ArticulateClient
    finally:
        sys.path.remove(str(ROOT / "clients" / "python" / "src"))
    from sdk.io import load_asset
    mesh = load_asset(CHARACTER).mesh
    with ArticulateClient(server.target, token=TOKEN, timeout=120) as c:
        r = c.rig(mesh.vertices, mesh.faces)
    assert r.joint_names == local_rig.skeleton.names
    assert r.skin_indices.shape[0] == mesh.n_vertices


@pytest.mark.parametrize("field,value", [("template", "octopus"), ("naming", "maya")])
def test_bad_template_or_naming_is_invalid_argument(client, server, field, value):
    with pytest.raises(InvalidInputError) as e:
        client.rig(str(CHARACTER), **{field: value})
    assert e.value.field == field and value in str(e.value)
    # from a plain grpcio stub: the status and the field in trailing metadata
    from sdk.io import load_asset
    from sdk.server import convert
    req = spb.RigRequest(input=spb.MeshInput(mesh=convert.mesh_to_proto(load_asset(CHARACTER).mesh)), **{field: value})
    with grpc.insecure_channel(server.target) as ch:
        with pytest.raises(grpc.RpcError) as err:
            list(sgrpc.ArticulateServiceStub(ch).Rig(req, metadata=MD, timeout=60))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.value.trailing_metadata())["articulate-field"] == field


def test_plain_mesh_with_parts_method_is_refused(client):
    with pytest.raises(InvalidInputError) as e:
        client.rig(str(CHARACTER), method="harmonic")
    assert e.value.field == "method"


def test_inline_part_source_without_parts_still_refused(server):
    """An explicit part source keeps its own error (the plain-mesh route is only for requests asking for no parts)."""
    from sdk.io import load_asset
    from sdk.server import convert
    req = spb.RigRequest(input=spb.MeshInput(mesh=convert.mesh_to_proto(load_asset(CHARACTER).mesh)),
                         part_source=spb.PART_SOURCE_INLINE)
    with grpc.insecure_channel(server.target) as ch:
        with pytest.raises(grpc.RpcError) as err:
            list(sgrpc.ArticulateServiceStub(ch).Rig(req, metadata=MD, timeout=60))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(err.value.trailing_metadata())["articulate-field"] == "parts"


def test_mesh_on_its_side_comes_back_upright_like_local(client):
    """autorig stands a lying mesh upright: the server sends the rotated mesh the skin binds (not asked for)."""
    from sdk.core import Mesh
    from sdk.io import load_asset
    m = load_asset(CHARACTER).mesh
    R = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])  # 90 degrees about X: lying on its back
    lying = Mesh(m.vertices @ R.T, m.faces, name="lying")
    local = Articulator().rig(lying)
    assert not np.allclose(local.metadata["applied_rotation"], np.eye(3))  # the case under test
    remote = client.rig(lying)
    assert remote.skeleton.names == local.skeleton.names
    np.testing.assert_allclose(remote.mesh.vertices, local.mesh.vertices, atol=1e-9)
    np.testing.assert_allclose(remote.metadata["applied_rotation"], local.metadata["applied_rotation"], atol=1e-12)
