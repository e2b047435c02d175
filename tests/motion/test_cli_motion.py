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


def _clean_usd_with_preview(out, capsys):
    from exporters.validate import validate_usd
    msg = capsys.readouterr().out
    assert f"wrote {out}" in msg
    assert validate_usd(out) == []
    gif = out.with_suffix(".gif")
    assert gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a") and f"preview {gif}" in msg
    assert out.with_suffix(".json").is_file()


def test_animate_writes_a_clean_usd_report_and_gif(tmp_path, samples_dir, capsys):
    out = tmp_path / "walk.usda"
    assert main(["animate", str(samples_dir / "critter.obj"), "--prompt", "walk forward", "--seconds", "0.5",
                 "--no-physics", "-o", str(out)]) == 0
    _clean_usd_with_preview(out, capsys)


def test_physics_track_writes_a_clean_usd_report_and_gif(tmp_path, shared_data, capsys):
    out = tmp_path / "fox_walk.usda"
    assert main(["physics-track", str(shared_data / "rigged/Fox/Fox.glb"), "--clip", "Walk", "--iterations", "1",
                 "--max-frames", "6", "-o", str(out)]) == 0
    _clean_usd_with_preview(out, capsys)
