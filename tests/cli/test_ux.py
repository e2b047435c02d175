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
    # the preview's rows are labelled: dark text pixels in the label column left of the grid, one label per row
    import numpy as np
    from PIL import Image
    img = np.asarray(Image.open(tmp_path / "p" / "preview.png").convert("L"))
    col = img[:, :110] < 100
    rows = np.array_split(col, 4, axis=0)
    assert all(r.sum() > 20 for r in rows), [int(r.sum()) for r in rows]


def test_rig_from_motion_names_the_clip_of_a_multi_clip_gltf(tmp_path, shared_data, capsys):
    fox = shared_data / "rigged" / "Quaternius_Fox" / "Fox.glb"
    if not fox.is_file():
        pytest.skip(f"shared asset {fox} not present")
    base = ["rig-from-motion", fox, "--max-frames", "4", "--iterations", "1"]
    rc, out, err = run_cli(base + ["-o", tmp_path / "a.usda"], capsys)
    assert rc == 0, err
    # the README's promise: a preview, here the input clip next to the recovered rig replaying it
    from PIL import Image
    gif = Image.open(tmp_path / "a_preview.gif")
    assert f"wrote {tmp_path / 'a_preview.gif'}" in out
    assert 2 <= gif.n_frames <= 48 and gif.size[0] == 2 * (gif.size[1] - 14), (gif.n_frames, gif.size)
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


# ---------------------------------------------------------------------------------------------- second pass
SAPIEN = "articulated/sapien_40147/mobility.urdf"


def _joint_lines(out):
    """{child: (type, axis)} from `articulate joints` stdout."""
    import re
    res = {}
    for ln in out.splitlines():
        m = re.match(r"\s*(\S+) <- (\S+)\s+(\w+)\s+axis \(([^)]*)\)", ln)
        if m:
            res[m.group(1)] = (m.group(3), [float(x) for x in m.group(4).split(",")])
    return res


def test_sapien_40147_right_without_prompts(tmp_path, shared_data, capsys):
    """The door hinge is vertical (z up in URDF) and the drawer slides: from the geometry alone, no prompt."""
    urdf = shared_data / SAPIEN
    if not urdf.is_file():
        pytest.skip(f"shared asset {urdf} not present")
    rc, out, err = run_cli(["joints", urdf, "--all-parts", "-o", tmp_path / "s.usda"], capsys)
    assert rc == 0, err
    j = _joint_lines(out)
    door_t, door_axis = j["link_0"]
    drawer_t, drawer_axis = j["link_1"]
    # right, or (only where it truly is ambiguous) a warning naming the part and the two readings
    assert door_t == "revolute" and abs(door_axis[2]) > 0.9, out
    assert drawer_t == "prismatic" and abs(drawer_axis[0]) > 0.9, out
    assert (tmp_path / "s_preview.png").is_file() and (tmp_path / "s_preview.gif").is_file()
    # the preview's camera: the door (which opens towards -x) faces it
    import numpy as np
    from sdk.articulation import articulate_object
    from sdk.io import load_asset
    from sdk.render.painter import view_basis
    from sdk.render.preview import facing_azimuth
    art = articulate_object(load_asset(urdf), progress=False)
    assert view_basis("z", facing_azimuth(art, "z"))[2] @ np.array([-1.0, 0, 0]) > 0.5


def test_joint_preview_draws_axes_and_faces_the_moving_parts():
    import numpy as np
    from sdk.core import Articulation, Joint, Link, Mesh
    from sdk.render.painter import view_basis
    from sdk.render.preview import facing_azimuth, render_articulation

    def box(lo, hi, name):
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        c = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float)
        v = lo + c * (hi - lo)
        f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],
                      [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
        return Link(name, Mesh(v, f, name=name))
    # z up; a cabinet whose door sits on its -x face, hinged on a vertical edge
    body, door = box([0, 0, 0], [1, 1, 1.2], "body"), box([-0.05, 0.05, 0.05], [0, 0.95, 1.15], "door")
    hinge = Joint("door_joint", "revolute", "body", "door", np.array([-0.05, 0.05, 0.6]), np.array([0, 0, 1.0]),
                  0.0, np.pi / 2, 0.9, {})  # positive angles swing it out towards -x
    art = Articulation([body, door], [hinge], name="cab", root_link="body")
    towards_viewer = view_basis("z", facing_azimuth(art, "z"))[2]
    assert towards_viewer @ np.array([-1.0, 0, 0]) > 0.5, towards_viewer  # the door's face looks at the camera
    with_axes = np.asarray(render_articulation(art, [{}], up="z", size=128)[0])
    without = np.asarray(render_articulation(art, [{}], up="z", size=128, axes=False)[0])
    dark = lambda im: int((im.sum(-1) < 120).sum())  # noqa: E731  the axis' outline
    assert dark(with_axes) > dark(without) + 30
    slide = Joint("door_joint", "prismatic", "body", "door", np.zeros(3), np.array([-1.0, 0, 0]), 0.0, 0.4, 0.9, {})
    art2 = Articulation([body, door], [slide], name="cab", root_link="body")
    assert dark(np.asarray(render_articulation(art2, [{}], up="z", size=128)[0])) > dark(without) + 30


def test_joints_prompt_per_part_with_all_parts(tmp_path, samples_dir, capsys):
    cab = samples_dir / "cabinet.obj"
    rc, _, err = run_cli(["joints", cab, "--all-parts", "--prompt", "shelf=open it", "-o", tmp_path / "c.usda"], capsys)
    assert_one_line_error(rc, err, "shelf", "no such part", "door")
    rc, _, err = run_cli(["joints", cab, "--all-parts", "--prompt", "open the door", "-o", tmp_path / "c.usda"], capsys)
    assert_one_line_error(rc, err, "PART=TEXT")
    rc, out, err = run_cli(["joints", cab, "--all-parts", "--prompt", "door=open the door", "--prompt",
                            "drawer=pull out the drawer", "--no-preview", "-o", tmp_path / "c.usda"], capsys)
    assert rc == 0, err
    j = _joint_lines(out)
    assert j["door"][0] == "revolute" and j["drawer"][0] == "prismatic", out


def test_joints_diffusion_prior_names_its_weight_file(tmp_path, samples_dir, capsys, monkeypatch):
    monkeypatch.setenv("ARTICULATE_WEIGHTS_DIR", str(tmp_path / "w"))
    from sdk.config import settings
    monkeypatch.setattr(settings, "weights_dir", str(tmp_path / "w"))
    rc, _, err = run_cli(["joints", samples_dir / "cabinet.obj", "--all-parts", "--prior", "diffusion",
                          "-o", tmp_path / "c.usda"], capsys)
    assert_one_line_error(rc, err, "imagedream/sd-v2.1-base-4view-ipmv.pt", "ARTICULATE_WEIGHTS_DIR")
    rc, out, _ = run_cli(["models"], capsys)
    assert "imagedream/sd-v2.1-base-4view-ipmv.pt" in out


def test_evaluate_joints_with_and_without_prompts_and_limits(tmp_path, shared_data, capsys):
    if not (shared_data / "articulated" / "metaworld_objects").is_dir():
        pytest.skip("shared metaworld objects not present")
    rec = tmp_path / "rec.json"
    rc, out, err = run_cli(["evaluate", "joints", "--only", "metaworld/drawer", "--skip-search", "--record", rec],
                           capsys)
    assert rc == 0, err
    assert "prompts from the dataset's labels" in out and "NO prompt" in out
    assert "with vs without prompts" in out and "range err (deg)" in out and "range err (m)" in out
    import json
    r = json.loads(rec.read_text())
    assert r["command"][:2] == ["evaluate", "joints"] and "--record" not in r["command"]
    assert r["wall_s"] > 0 and "with vs without prompts" in r["output"] and r["exit_code"] == 0


def test_range_error_scores_limits():
    import numpy as np
    from sdk.evaluation.joints import range_error

    class GT:
        type, axis, lower, upper = "revolute", np.array([0, 0, 1.0]), 0.0, np.pi / 2
    deg, m = range_error("revolute", [0, 0, -1], 0.0, np.pi, GT)
    assert abs(deg - 90.0) < 1e-9 and np.isnan(m)
    assert all(np.isnan(x) for x in range_error("revolute", [1, 0, 0], 0.0, np.pi, GT))  # other axis: not comparable
    GT.type, GT.upper = "prismatic", 0.6
    deg, m = range_error("prismatic", [0, 0, 1], -0.1, 0.93, GT)
    assert np.isnan(deg) and abs(m - 0.43) < 1e-9


# one wording for one problem, in every sub-command (sdk.errors helpers via sdk.cli._common)
_INPUT_COMMANDS = {
    "rig": ["rig", "IN", "-o", "TMP/o.usda"],
    "rig-from-motion": ["rig-from-motion", "IN", "-o", "TMP/o.usda"],
    "joints": ["joints", "IN", "--all-parts", "-o", "TMP/o.usda"],
    "parts": ["parts", "IN", "-o", "TMP/p"],
    "physics-track": ["physics-track", "IN", "-o", "TMP/o.usda"],
    "validate": ["validate", "IN"],
    "render-views": ["render-views", "IN", "-o", "TMP/rv"],
    "mesh-cache": ["mesh-cache", "IN", "-o", "TMP/m.usda"],
    "retarget": ["retarget", "IN", "IN", "-o", "TMP/r.glb"],
    "animate": ["animate", "IN", "--prompt", "walk", "-o", "TMP/a.glb"],
}


@pytest.mark.parametrize("command", sorted(_INPUT_COMMANDS))
def test_same_problem_same_words(command, tmp_path, capsys):
    def argv(inp):
        return [str(a).replace("IN", str(inp)).replace("TMP", str(tmp_path)) for a in _INPUT_COMMANDS[command]]
    missing = tmp_path / "missing.glb"
    rc, _, err = run_cli(argv(missing), capsys)
    assert_one_line_error(rc, err, f"{missing}: no such file")
    bad = tmp_path / "bad.xyz"
    bad.write_text("x")
    rc, _, err = run_cli(argv(bad), capsys)
    assert_one_line_error(rc, err, f"{bad}: unknown suffix '.xyz'", "(use ")
    if command not in ("rig-from-motion", "mesh-cache"):  # these read a folder of frames
        d = tmp_path / "adir.glb"
        d.mkdir()
        rc, _, err = run_cli(argv(d), capsys)
        assert_one_line_error(rc, err, f"{d}: is a directory, not a file")


def test_parts_nan_names_file_and_vertex(tmp_path, capsys):
    obj = tmp_path / "nan.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv nan 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 2 3 4\nf 1 3 4\n")
    rc, _, err = run_cli(["parts", obj, "-o", tmp_path / "p"], capsys)
    assert_one_line_error(rc, err, str(obj), "vertex 2", "not finite")


# `serve` as a user runs it: a subprocess; startup problems are one line, exit code 2
def _serve(*argv, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "sdk.cli", "serve", "--port", "0", *map(str, argv)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


def _pem_pair(d, name):
    import shutil
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test certificates")
    key, cert = d / f"{name}.key", d / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"], check=True,
                   capture_output=True)
    return cert, key


def _one_error_line(r):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "Failed to bind" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    return lines[0]


def test_serve_bad_tls_files_name_the_file_and_the_problem(tmp_path, capsys):
    cert, key = _pem_pair(tmp_path, "a")
    cert2, key2 = _pem_pair(tmp_path, "b")
    ln = _one_error_line(_serve("--tls-cert", cert, "--tls-key", key2))  # the real command, as a user runs it
    assert f"--tls-key {key2}" in ln and "does not match" in ln and str(cert) in ln, ln
    ln = _one_error_line(_serve("--tls-cert", key, "--tls-key", key))
    assert f"--tls-cert {key}" in ln and "private key, not a certificate" in ln, ln
    # the same checks in-process (no second interpreter start per case)
    rc, _, err = run_cli(["serve", "--port", "0", "--tls-cert", cert, "--tls-key", cert], capsys)
    assert_one_line_error(rc, err, f"--tls-key {cert}", "certificate, not a private key")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    rc, _, err = run_cli(["serve", "--port", "0", "--tls-cert", junk, "--tls-key", key], capsys)
    assert_one_line_error(rc, err, f"--tls-cert {junk}", "not a usable PEM certificate")
    rc, _, err = run_cli(["serve", "--port", "0", "--tls-cert", tmp_path / "none.pem", "--tls-key", key], capsys)
    assert_one_line_error(rc, err, f"--tls-cert {tmp_path / 'none.pem'}", "no such file")


def test_serve_port_in_use_names_the_port(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        r = subprocess.run([sys.executable, "-m", "sdk.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    finally:
        s.close()
    ln = _one_error_line(r)
    assert str(port) in ln and "in use" in ln, ln


@pytest.mark.parametrize("argv,flag", [
    (["parts", "SAMPLES/critter.obj", "-o", "TMP/p", "--passes", "0"], "--passes 0"),
    (["rig", "SAMPLES/critter.obj", "-o", "TMP/r.usda", "--max-influences", "99"], "--max-influences 99"),
    (["rig-from-motion", "SAMPLES/arm_motion.npz", "-o", "TMP/r.usda", "--fps", "0"], "--fps 0.0"),
    (["rig-from-motion", "SAMPLES/arm_motion.npz", "-o", "TMP/r.usda", "--merge-tol", "nan"], "--merge-tol nan"),
    (["mesh-cache", "SAMPLES/arm_motion.npz", "-o", "TMP/m.usda", "--max-frames", "1"], "--max-frames 1"),
], ids=["parts-passes", "rig-influences", "rfm-fps", "rfm-merge-tol", "mesh-cache-frames"])
def test_bad_flag_value_same_words(argv, flag, tmp_path, samples_dir, capsys):
    argv = [a.replace("SAMPLES", str(samples_dir)).replace("TMP", str(tmp_path)) for a in argv]
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, f"{flag}: must be ")
    assert list(tmp_path.iterdir()) == []  # checked before any work


@pytest.mark.parametrize("command", ["rig", "rig-from-motion", "joints"])
def test_output_format_checked_before_work(command, tmp_path, samples_dir, capsys):
    inp = samples_dir / ("arm_motion.npz" if command == "rig-from-motion" else "cabinet.obj")
    argv = [command, inp, "-o", tmp_path / "out.xyz"] + (["--all-parts"] if command == "joints" else [])
    rc, _, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, "'.xyz'", "(use ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags, needle", [
    (["--clips", "Nope"], "--clips: unknown 'Nope'"),
    (["--only", "Nobody"], "--only: unknown 'Nobody'"),
    (["--only", "Q-Wolf", "--clips", "Run"], "no character has these clips"),
])
def test_evaluate_physics_unknown_names_are_errors(flags, needle, shared_data, capsys):
    """A name that matches nothing would leave an empty table with exit 0: it is an error naming the flag."""
    rc, _, err = run_cli(["evaluate", "physics", "--data", shared_data, *flags, "--skip-gait", "--skip-raised"], capsys)
    assert_one_line_error(rc, err, needle)
