"""Generated stubs are reproducible from proto/ and in sync with it."""
from pathlib import Path

from sdk.server import codegen


def test_stubs_in_sync_with_proto(tmp_path: Path):
    written = codegen.generate(tmp_path / "gen")
    assert any(p.name == "articulate_service_pb2_grpc.py" for p in written)
    changed = codegen.diff(tmp_path / "gen", codegen.GEN_DIR)
    assert not changed, f"sdk/server/gen is out of date; run `python -m sdk.server.codegen`: {changed}"


def test_generation_is_deterministic(tmp_path: Path):
    codegen.generate(tmp_path / "a")
    codegen.generate(tmp_path / "b")
    assert codegen.diff(tmp_path / "a", tmp_path / "b") == []


def test_diff_detects_a_change(tmp_path: Path):
    codegen.generate(tmp_path / "a")
    codegen.generate(tmp_path / "b")
    f = tmp_path / "b" / "articulate" / "rig" / "v1" / "rig_pb2.py"
    f.write_text(f.read_text() + "\n# edited\n")
    assert codegen.diff(tmp_path / "a", tmp_path / "b") == ["articulate/rig/v1/rig_pb2.py"]


def test_services_apart_from_messages():
    from sdk.server.gen.articulate.rig.v1 import rig_pb2
    from sdk.server.gen.articulate.services.v1 import articulate_service_pb2 as spb
    assert not rig_pb2.DESCRIPTOR.services_by_name
    svc = spb.DESCRIPTOR.services_by_name["ArticulateService"]
    assert svc.full_name == "articulate.services.v1.ArticulateService"
    assert {"Rig", "RigFromMotion", "ArticulateParts", "Upload", "SubmitJob", "WatchJob", "CancelJob"} <= set(
        svc.methods_by_name)


def test_client_stubs_in_sync_with_proto(tmp_path: Path):
    """The torch-free client (clients/python) carries its own copy, importable as articulate_client._gen."""
    codegen.generate(tmp_path / "gen", package=codegen.CLIENT_GEN_PACKAGE)
    changed = codegen.diff(tmp_path / "gen", codegen.CLIENT_GEN_DIR)
    assert not changed, f"clients/python stubs are out of date; run `python -m sdk.server.codegen`: {changed}"
    text = (codegen.CLIENT_GEN_DIR / "articulate" / "services" / "v1" / "articulate_service_pb2_grpc.py").read_text()
    assert "from articulate_client._gen.articulate.services.v1 import" in text and "from sdk" not in text
