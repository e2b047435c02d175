"""A new user's careless input (issue 19): every mistake is one line naming the problem, exit code 2, no traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sdk.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(argv, capsys):
    """The command in-process (an uncaught exception fails the test); returns (rc, stdout, stderr)."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, *needles):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip().startswith("error:")]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("ARTICULATE_PROGRESS", "0")
    from sdk.config import settings
    monkeypatch.setattr(settings, "progress", False)


def test_parts_output_is_an_existing_file(tmp_path, samples_dir, capsys):
    f = tmp_path / "taken"
    f.write_text("x")
    rc, _, err = run_cli(["parts", samples_dir / "critter.obj", "-o", f], capsys)
    assert_one_line_error(rc, err, str(f), "is a file")
    assert f.read_text() == "x"


def test_parts_weights_missing(tmp_path, samples_dir, capsys):
    w = tmp_path / "nope.safetensors"
    rc, _, err = run_cli(["parts", samples_dir / "critter.obj", "-o", tmp_path / "o", "--method", "sp4d",
                          "--weights", w], capsys)
    assert_one_line_error(rc, err, str(w), "no such")


def test_parts_weights_not_a_weights_file(tmp_path, samples_dir, capsys):
    w = tmp_path / "bad.safetensors"
    w.write_text("this is not a safetensors file")
    rc, _, err = run_cli(["parts", samples_dir / "critter.obj", "-o", tmp_path / "o", "--method", "sp4d",
                          "--weights", w], capsys)
    assert_one_line_error(rc, err, str(w), "not a")
    # a real safetensors file without SP4D metadata is named as such
    import torch
    from safetensors.torch import save_file
    w2 = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(w2))
    rc, _, err = run_cli(["parts", samples_dir / "critter.obj", "-o", tmp_path / "o", "--method", "sp4d",
                          "--weights", w2], capsys)
    assert_one_line_error(rc, err, str(w2), "not an SP4D weights file")


def test_rig_parts_file_missing_or_garbage(tmp_path, samples_dir, capsys):
    p = tmp_path / "nope.npy"
    rc, _, err = run_cli(["rig", samples_dir / "critter.obj", "-o", tmp_path / "r.usda", "--parts", p], capsys)
    assert_one_line_error(rc, err, str(p), "no such part-label file")
    g = tmp_path / "labels.txt"
    g.write_text("0 1 two\n")
    rc, _, err = run_cli(["rig", samples_dir / "critter.obj", "-o", tmp_path / "r.usda", "--parts", g], capsys)
    assert_one_line_error(rc, err, str(g), "not a part-label file")
    assert not (tmp_path / "r.usda").exists()


def test_rig_output_is_a_directory(tmp_path, samples_dir, capsys):
    rc, _, err = run_cli(["rig", samples_dir / "critter.obj", "-o", tmp_path], capsys)
    assert_one_line_error(rc, err, str(tmp_path), "is a folder")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the message of a CPU-only torch")
@pytest.mark.parametrize("argv", [
    ["rig-from-motion", "SAMPLES/critter.obj", "-o", "TMP/r.usda"],
    ["parts", "SAMPLES/critter.obj", "-o", "TMP/parts", "--method", "sp4d"],
    ["compile", "sp4d-unet", "--config", "tiny", "--random-weights"],
], ids=["rig-from-motion", "parts", "compile"])
def test_device_cuda_on_cpu_only_torch(argv, tmp_path, samples_dir, capsys):
    argv = [a.replace("SAMPLES", str(samples_dir)).replace("TMP", str(tmp_path)) for a in argv]
    rc, _, err = run_cli(argv + ["--device", "cuda"], capsys)
    assert_one_line_error(rc, err, "--device cuda", "no CUDA")
    assert list(tmp_path.iterdir()) == []  # checked before any work


def test_remote_client_without_token(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "samples"))
    try:
        import remote_client
    finally:
        sys.path.pop(0)
    from sdk.server.server import ServerOptions, start_server
    running = start_server(ServerOptions(port=0, tokens=["s3cret"]))
    try:
        rc = remote_client.main(["--target", running.target, "-o", str(tmp_path / "x.usda")])
    finally:
        running.shutdown(grace=1)
    _, err = capsys.readouterr()
    assert_one_line_error(rc, err, "UNAUTHENTICATED", "--token-file")
    rc = remote_client.main(["--target", "127.0.0.1:1", "--token-file", str(tmp_path / "none.txt")])
    _, err = capsys.readouterr()
    assert_one_line_error(rc, err, "none.txt", "cannot read token file")


def _pty_run(argv):
    """Run the CLI with stderr on a 100-column pseudo-terminal; return everything written there."""
    import fcntl
    import struct
    import termios
    m, s = os.openpty()
    fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = dict(os.environ, PYTHONPATH=str(ROOT), ARTICULATE_PROGRESS="1", OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "sdk.cli", *map(str, argv)], stdout=subprocess.DEVNULL, stderr=s,
                       env=env, cwd=ROOT, timeout=300)
    os.close(s)
    data = b""
    while True:
        try:
            chunk = os.read(m, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(m)
    return p.returncode, data.decode("utf-8", "replace")


def test_error_is_not_glued_to_the_progress_bar(tmp_path):
    # compile fails inside its bar (the checkpoint is read after the "loading" stage is shown)
    bad = tmp_path / "bad.safetensors"
    bad.write_text("junk")
    rc, err = _pty_run(["compile", "sp4d", "--checkpoint", bad, "--backend", "onnxruntime", "--device", "cpu"])
    assert rc == 2, err
    assert "Traceback" not in err
    before, sep, _ = err.rpartition("error:")
    assert sep, err
    assert "%|" in before or "loading" in before, err  # the bar was drawn ...
    assert before.endswith(("\r\x1b[K", "\n")), repr(before[-80:])  # ... and cleared before the error


def test_parts_defaults_to_colour(tmp_path, samples_dir, capsys):
    """docs/models.md: the shipped SP4D-small loses to colour clustering, so `parts` defaults to colour."""
    from sdk.cli import build_parser
    args = build_parser().parse_args(["parts", "x.obj", "-o", "out"])
    assert args.method == "colour"
    rc, out, err = run_cli(["parts", samples_dir / "critter.obj", "-o", tmp_path / "p", "--passes", "1"], capsys)
    assert rc == 0, err
    import json
    meta = json.loads((tmp_path / "p" / "vertex_labels.json").read_text())
    assert meta["method"] == "colour" and meta["num_parts"] >= 2


def test_rig_from_motion_names_the_clip_of_a_multi_clip_gltf(tmp_path, shared_data, capsys):
    fox = shared_data / "rigged" / "Quaternius_Fox" / "Fox.glb"
    if not fox.is_file():
        pytest.skip(f"shared asset {fox} not present")
    base = ["rig-from-motion", fox, "--max-frames", "4", "--iterations", "1"]
    rc, out, err = run_cli(base + ["-o", tmp_path / "a.usda"], capsys)
    assert rc == 0, err
    warn = [ln for ln in err.splitlines() if ln.startswith("warning:") and "clip" in ln]
    assert len(warn) == 1, err
    assert "'Attack'" in warn[0] and "Walk" in warn[0] and "Gallop" in warn[0] and "--clip" in warn[0]
    rc, out, err = run_cli(base + ["--clip", "Walk", "-o", tmp_path / "b.usda"], capsys)
    assert rc == 0, err
    assert "clip" not in err  # an explicit clip: nothing to warn about
    rc, out, err = run_cli(base + ["--clip", "Nope", "-o", tmp_path / "c.usda"], capsys)
    assert_one_line_error(rc, err, "Nope")


def _subcommands():
    import argparse

    from sdk.cli import build_parser
    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return sub


def test_every_command_and_option_has_help_text():
    import argparse
    sub = _subcommands()
    command_help = {c.dest: c.help for c in sub._choices_actions}
    missing = [name for name in sub.choices if not command_help.get(name)]
    for name, sp in sub.choices.items():
        missing += [f"{name} {'/'.join(a.option_strings) or a.dest}" for a in sp._actions
                    if not isinstance(a, argparse._HelpAction) and not a.help]
    assert missing == []


def test_max_influences_and_precision_documented_one_way():
    from sdk.rigging.budget import MAX_INFLUENCES
    from trt_engines.select import PRECISIONS
    sub = _subcommands()
    for name in ("rig", "rig-from-motion"):
        a = next(a for a in sub.choices[name]._actions if "--max-influences" in a.option_strings)
        assert f"1..{MAX_INFLUENCES}" in a.help and a.choices is None, (name, a.help)
    readme = (ROOT / "README.md").read_text()
    assert f"--max-influences 1..{MAX_INFLUENCES}" in readme
    line = next(ln for ln in readme.splitlines() if ln.startswith("articulate compile MODEL"))
    assert all(p in line for p in PRECISIONS), line
    a = next(a for a in sub.choices["compile"]._actions if "--precision" in a.option_strings)
    assert "fp8" in a.help
