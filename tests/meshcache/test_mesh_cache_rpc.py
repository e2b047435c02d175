"""The mesh-cache job over gRPC (GenericTask "mesh_cache") on a real loopback server."""
import numpy as np
import pytest

pytest.importorskip("pxr")


def test_mesh_cache_job_over_loopback(fox_walk, tmp_path):
    from google.protobuf import struct_pb2

    from exporters.validate import validate_usd
    from sdk.client import RemoteArticulator, RemoteError
    from sdk.errors import InvalidInputError
    from sdk.motionrig.sequence import load_usd_points
    from sdk.server.gen.articulate.services.v1 import articulate_service_pb2 as spb
    from sdk.server.server import ServerOptions, start_server
    seq = fox_walk
    npz = tmp_path / "walk.npz"
    np.savez(npz, vertices=seq.vertices[:12].astype(np.float32), faces=seq.faces, fps=seq.fps)
    running = start_server(ServerOptions(port=0, workers=1))
    try:
        c = RemoteArticulator(running.target, timeout=120)
        uid = c.upload_file(npz)
        params = struct_pb2.Struct()
        params.update({"format": "usdc", "max_frames": 6})
        h = c.submit("generic", spb.GenericTask(task="mesh_cache", params=params, upload_ids=[uid]))
        events = list(c.stub.WatchJob(spb.WatchJobRequest(job_id=h.job_id, from_start=True), timeout=120))
        kinds = [ev.WhichOneof("event") for ev in events]
        assert kinds[-1] == "final" and events[-1].final.code == 0, events[-1]
        assert [ev.blob_header.name for ev, k in zip(events, kinds) if k == "blob_header"] == ["mesh_cache.usdc"]
        out = tmp_path / "back.usdc"
        out.write_bytes(b"".join(ev.blob_chunk for ev, k in zip(events, kinds) if k == "blob_chunk"))
        assert not validate_usd(out)  # OpenUSD's validators: nothing to report
        back = load_usd_points(out)
        idx = np.unique(np.round(np.linspace(0, 11, 6)).astype(int))
        assert back.vertices.shape == (6, seq.n_vertices, 3)
        np.testing.assert_allclose(back.vertices, seq.vertices[idx].astype(np.float32), atol=1e-6)
        assert np.array_equal(back.faces, seq.faces)
        # bad parameters are refused at submission, naming the field
        params.update({"format": "fbx"})
        with pytest.raises((RemoteError, InvalidInputError)) as e:
            c.submit("generic", spb.GenericTask(task="mesh_cache", params=params, upload_ids=[uid]))
        assert "generic.params.format" in str(e.value) or "unknown format" in str(e.value)
        c.close()
    finally:
        running.shutdown(grace=5)
