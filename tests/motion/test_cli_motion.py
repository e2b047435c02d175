"""CLI bad input: one line, exit code 2, nothing written."""
import pytest

from sdk.cli import main


def test_physics_track_without_a_rig_or_clip(tmp_path, samples_dir, capsys):
    out = tmp_path / "x.usda"
    assert main(["physics-track", str(samples_dir / "critter.obj"), "-o", str(out)]) == 2
    assert "no rig" in capsys.readouterr().err and not out.exists()


def test_bad_output_suffix(tmp_path, samples_dir, capsys):
    assert main(["animate", str(samples_dir / "critter.obj"), "--prompt", "walk", "-o", str(tmp_path / "x.fbx")]) == 2
    assert "unknown output format" in capsys.readouterr().err


def test_empty_prompt(tmp_path, samples_dir, capsys):
    assert main(["animate", str(samples_dir / "critter.obj"), "--prompt", " ", "-o", str(tmp_path / "x.usda"),
                 "--no-preview"]) == 2
    assert "prompt is empty" in capsys.readouterr().err
