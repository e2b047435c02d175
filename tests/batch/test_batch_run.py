"""articulate batch on a real local Ray (2 CPUs): a library with broken files, reruns, option changes, crashes."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from sdk.batch import BatchConfig, run_batch
from sdk.batch.manifest import JOURNAL, MANIFEST
from sdk.cli import main
from sdk.errors import InvalidInputError, MissingDependencyError

from . import chaos_tasks


def _manifest(out: Path) -> dict:
    return json.loads((out / MANIFEST).read_text())["assets"]


def test_library_completes_and_every_bad_file_is_reported(first_run):
    lib, expected, out, rc = first_run
    m = _manifest(out)
    assert set(m) == set(expected)  # every file accounted for (the hidden .expected.json is not an asset)
    assert not (out / JOURNAL).exists()  # compacted into manifest.json at the end
    assert rc == 1  # broken files present -> non-zero, all listed
    for rel, exp in expected.items():
        e = m[rel]
        assert e["status"] == exp["status"], (rel, e.get("error"))
        if exp["status"] == "done":
            assert e["task"] == exp["task"]
            adir = out / e["out_dir"]
            for f in e["outputs"].values():
                assert (adir / f).stat().st_size > 0
            assert {"preview", "validation"} <= set(e["outputs"])
            # the OpenUSD validators find nothing in what the batch wrote; the engine report (sdk.validation) may
            # warn (e.g. a procedural critter read as a sideways biped) but finds no error
            findings = json.loads((adir / "validation.json").read_text())["findings"]
            assert [f for f in findings if not f["validator"].startswith("engine:")] == []
            assert [f for f in findings if f["severity"] == "error"] == []
            assert e["findings"] == findings
            if exp["task"] == "rig":  # one bone per part
                assert e["stats"]["bones"] == exp["parts"], e["stats"]
            elif exp["task"] == "rig-from-motion":  # moving parts found (static neighbours may merge)
                assert 2 <= e["stats"]["bones"] <= exp["parts"] and e["stats"]["joints"] >= 1, e["stats"]
            else:
                assert e["stats"]["joints"] >= 1, e["stats"]
            assert e["timings"]["task"] > 0 and e["timings"]["compute"] > 0 and e["content_hash"]
        elif exp["status"] == "invalid":
            assert e["error_kind"] == "invalid_input" and e["error"], rel
        elif exp["status"] == "duplicate":
            assert e["duplicate_of"] in expected and expected[e["duplicate_of"]]["status"] == "done"
        else:
            assert e["status"] == "unsupported" and "files" in e["error"]
    # the reasons name the problem
    assert "empty" in m["characters/broken_empty.obj"]["error"]
    assert "truncated" in m["characters/broken_truncated.glb"]["error"]
    assert "not finite" in m["characters/broken_nan.obj"]["error"]


def test_second_run_does_nothing(first_run):
    lib, expected, out, _ = first_run
    before = _manifest(out)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "assets").rglob("*") if p.is_file()}
    s = run_batch(lib, out, BatchConfig(workers=2, progress_bar=False))
    assert s["to_run"] == 0 and s["processed"] == 0 and "workers" not in s  # not even an actor started
    assert s["skipped"] == sum(1 for e in expected.values() if e["status"] in ("done", "invalid"))
    after = _manifest(out)
    assert {k: v.get("run_id") for k, v in after.items()} == {k: v.get("run_id") for k, v in before.items()}
    assert {p: p.stat().st_mtime_ns for p in (out / "assets").rglob("*") if p.is_file()} == mtimes


def test_option_change_reruns_only_what_it_affects(first_run, tmp_path):
    lib0, expected, out0, _ = first_run
    lib, out = tmp_path / "lib", tmp_path / "out"
    shutil.copytree(lib0, lib)
    shutil.copytree(out0, out)
    before = _manifest(out)
    rig_assets = {k for k, e in before.items() if e["status"] == "done" and e["task"] == "rig"}
    # files rejected under the old rig options are rig assets too: the new options get their own answer
    rig_rejected = {k for k, e in before.items() if e["status"] == "invalid" and e["task"] == "rig"}
    others_done = {k for k, e in before.items() if e["status"] == "done" and e["task"] != "rig"}
    assert rig_assets and others_done and rig_rejected
    # a rig option (rig.method: joints has a 'method' too): only rig assets run again
    s = run_batch(lib, out, BatchConfig(options={"rig.method": "heat"}, workers=2, progress_bar=False))
    after = _manifest(out)
    assert s["processed"] == len(rig_assets | rig_rejected)
    assert ({k for k in after if after[k].get("run_id") != before[k].get("run_id")}
            == rig_assets | rig_rejected)
    assert all(after[k]["options"]["method"] == "heat" and after[k]["status"] == "done" for k in rig_assets)
    assert after["motion/broken_truncated.npz"]["run_id"] == before["motion/broken_truncated.npz"]["run_id"]
    # an edited file runs again, alone; so does an asset whose output was deleted
    prop = sorted(k for k in others_done if expected[k]["task"] == "joints")[0]
    with open(lib / prop, "a") as fh:
        fh.write("# edited\n")
    rig1 = sorted(rig_assets)[0]
    (out / after[rig1]["out_dir"] / after[rig1]["outputs"]["rig"]).unlink()
    s = run_batch(lib, out, BatchConfig(options={"rig.method": "heat"}, workers=2, progress_bar=False))
    again = _manifest(out)
    assert s["processed"] == 2
    assert {k for k in again if again[k].get("run_id") != after[k].get("run_id")} == {prop, rig1}
    assert again[prop]["content_hash"] != after[prop]["content_hash"]


def test_grpc_submit_job_runs_a_batch(ray_local, library, tmp_path):
    from sdk.batch.service import configure
    from sdk.client import RemoteArticulator, RemoteError
    from sdk.server.gen.articulate.services.v1 import articulate_service_pb2 as spb
    from sdk.server.server import ServerOptions, start_server
    from google.protobuf import struct_pb2
    lib0, expected = library
    lib = tmp_path / "lib"
    lib.mkdir()
    good = sorted(k for k, e in expected.items() if e.get("task") == "rig")[:2]
    for rel in good + ["characters/broken_empty.obj"]:
        (lib / Path(rel).name).write_bytes((lib0 / rel).read_bytes())
    configure(roots=[tmp_path])
    running = start_server(ServerOptions(port=0, workers=1))
    try:
        c = RemoteArticulator(running.target, timeout=300)
        params = struct_pb2.Struct()
        params.update({"input_dir": str(lib), "out_dir": str(tmp_path / "out"), "task": "rig",
                       "options": {"max_influences": 2}, "workers": 2})
        h = c.submit("generic", spb.GenericTask(task="batch", params=params))
        events = list(c.stub.WatchJob(spb.WatchJobRequest(job_id=h.job_id, from_start=True), timeout=300))
        kinds = [ev.WhichOneof("event") for ev in events]
        assert kinds[-1] == "final" and events[-1].final.code == 0, events[-1]
        summary = json.loads(b"".join(ev.blob_chunk for ev in events if kinds and ev.WhichOneof("event") == "blob_chunk"))
        assert next(ev.blob_header.name for ev in events if ev.WhichOneof("event") == "blob_header") == "batch_summary.json"
        assert summary["status"] == {"done": 2, "invalid": 1} and summary["processed"] == 3
        assert any("done=" in ev.progress.message for ev in events if ev.WhichOneof("event") == "progress")
        m = _manifest(tmp_path / "out")
        assert all(m[Path(r).name]["options"]["max_influences"] == 2 for r in good)
        # a folder outside the server's batch roots is refused up front, naming the field
        params["input_dir"] = "/etc"
        with pytest.raises((RemoteError, InvalidInputError)) as e:
            c.submit("generic", spb.GenericTask(task="batch", params=params))
        assert "outside the server's batch roots" in str(e.value)
        c.close()
    finally:
        running.shutdown(grace=5)
        configure()


def test_worker_crash_and_out_of_memory_are_recorded(ray_local, tmp_path):
    chaos_tasks.register()
    lib = tmp_path / "chaos"
    lib.mkdir()
    for name in ("ok_1", "ok_2", "abort_me", "segv_me", "oom_me", "raise_me"):
        (lib / f"{name}.bin").write_bytes(name.encode() * 10)
    out = tmp_path / "out"
    s = run_batch(lib, out, BatchConfig(task="chaos", workers=2, max_retries=1, memory_limit_mb=256,
                                        progress_bar=False))
    m = _manifest(out)
    assert s["processed"] == 6 and len(m) == 6
    for ok in ("ok_1.bin", "ok_2.bin"):
        assert m[ok]["status"] == "done" and (out / m[ok]["out_dir"] / "echo.txt").read_bytes() == (ok[:4] * 10).encode()[:64]
    for crash in ("abort_me.bin", "segv_me.bin"):
        e = m[crash]
        assert e["status"] == "failed" and e["error_kind"] == "worker_died" and e["attempts"] == 2, e
        assert "died" in e["error"]
    e = m["oom_me.bin"]
    assert e["status"] == "failed" and e["error_kind"] == "out_of_memory" and "256 MiB" in e["error"], e
    assert e["attempts"] == 1  # the limit turned it into an exception: the worker lived on
    e = m["raise_me.bin"]
    assert e["status"] == "failed" and e["error_kind"] == "exception" and "chaos task raised" in e["error"]
    # a rerun retries the four failures and skips the two done
    s = run_batch(lib, out, BatchConfig(task="chaos", workers=2, max_retries=0, memory_limit_mb=256,
                                        progress_bar=False))
    assert s["processed"] == 4 and s["skipped"] == 2
    assert _manifest(out)["abort_me.bin"]["attempts"] == 1


def test_unavailable_task_is_reported_not_a_crash(tmp_path):
    chaos_tasks.register_absent()
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.bin").write_bytes(b"x")
    s = run_batch(lib, tmp_path / "out", BatchConfig(task="absent", progress_bar=False, report=False))
    e = _manifest(tmp_path / "out")["a.bin"]
    assert s["processed"] == 0 and e["status"] == "unavailable"
    assert "no_such_module_for_batch_tests" in e["error"] and "not installed" in e["error"]


def test_missing_ray_names_the_extra(tmp_path, monkeypatch):
    chaos_tasks.register()
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "ok.bin").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependencyError) as e:
        run_batch(lib, tmp_path / "out", BatchConfig(task="chaos", progress_bar=False))
    assert "pip install articulate-sdk[batch]" in str(e.value)


def test_cli_bad_arguments_exit_2(library, tmp_path, capsys):
    lib, _ = library
    assert main(["batch", str(lib), "-o", str(tmp_path / "o"), "--set", "no_such_option=1"]) == 2
    assert "unknown option 'no_such_option'" in capsys.readouterr().err
    assert main(["batch", str(lib), "-o", str(tmp_path / "o"), "--task", "sculpt"]) == 2
    assert main(["batch", str(tmp_path / "missing"), "-o", str(tmp_path / "o")]) == 2
    assert main(["batch", "--list-tasks"]) == 0
    assert "mesh-cache" in capsys.readouterr().out


def test_gpu_share_on_a_cluster_without_gpus_is_refused(ray_local, library, tmp_path):
    lib, _ = library
    with pytest.raises(InvalidInputError) as e:
        run_batch(lib, tmp_path / "out", BatchConfig(task="rig-from-motion", gpus_per_task=0.5, progress_bar=False))
    assert "has 0 GPUs" in str(e.value) and e.value.field == "--gpus-per-task"


def test_cancelled_batch_keeps_finished_work_and_resumes(ray_local, tmp_path):
    chaos_tasks.register()
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(6):
        (lib / f"ok_{i}.bin").write_bytes(f"asset {i}".encode())
    out = tmp_path / "out"

    class Stop(Exception):
        pass

    seen = []

    def progress(frac, msg):  # the client cancels once two assets are in
        seen.append(msg)
        if sum(": done" in m for m in seen) >= 2:
            raise Stop()

    with pytest.raises(Stop):
        run_batch(lib, out, BatchConfig(task="chaos", workers=2, progress_bar=False), progress=progress)
    m = _manifest(out)
    done = {k for k, e in m.items() if e["status"] == "done"}
    assert len(done) >= 2 and len(m) == 6 and {e["status"] for e in m.values()} <= {"done", "pending"}
    s = run_batch(lib, out, BatchConfig(task="chaos", workers=2, progress_bar=False))
    assert s["processed"] == 6 - len(done) and s["status"] == {"done": 6}
