import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sdk.config import settings
from sdk.errors import MissingWeightsError
from sdk.models.registry import require_weight, status

ROOT = Path(__file__).resolve().parents[2]


def test_missing_weights_error_names_file_and_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "weights_dir", tmp_path)
    with pytest.raises(MissingWeightsError) as e:
        require_weight("sv4d2")
    msg = str(e.value)
    assert "sv4d2.safetensors" in msg and str(tmp_path) in msg and "Errno" not in msg
    assert e.value.weights_file == "sv4d2.safetensors" and e.value.directory == str(tmp_path)
    rows = {r["model"]: r for r in status()}
    assert rows["sp4d-small"]["present"] and not rows["sv4d2"]["present"]
    (tmp_path / "sv4d2.safetensors").write_bytes(b"x")
    assert require_weight("sv4d2") == tmp_path / "sv4d2.safetensors"


def test_models_cli_lists_presence():
    out = subprocess.run([sys.executable, "-m", "sdk.cli", "models", "--json"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["model"] for r in rows} >= {"sp4d-small", "sp4d", "sv4d2", "sam-vit-b"}


def test_parts_cli_colour_method_on_sample(tmp_path):
    sample = ROOT / "samples" / "props" / "sp4d_robot_arm.obj"
    out = subprocess.run([sys.executable, "-m", "sdk.cli", "parts", str(sample), "-o", str(tmp_path),
                          "--method", "colour", "--passes", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    labels = np.load(tmp_path / "vertex_labels.npy")
    meta = json.loads((tmp_path / "vertex_labels.json").read_text())
    assert len(labels) == meta["num_vertices"] > 0 and meta["num_parts"] >= 2
    assert (tmp_path / "preview.png").stat().st_size > 1000
    assert np.load(tmp_path / "part_maps.npz")["labels"].ndim == 3


def test_parts_cli_bad_input_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sdk.cli", "parts", str(tmp_path / "nope.obj"), "-o", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "nope.obj" in out.stderr
