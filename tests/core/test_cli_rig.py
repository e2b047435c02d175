import subprocess
import sys

import numpy as np

from exporters.usd import skin_with_usdskel
from exporters.validate import validate_usd


def test_readme_main_job_writes_validator_clean_usd_and_preview(tmp_path, samples_dir):
    out = tmp_path / "critter.usda"
    r = subprocess.run([sys.executable, "-m", "sdk.cli", "rig", str(samples_dir / "critter.obj"), "-o", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert validate_usd(out) == []
    assert out.with_suffix(".png").stat().st_size > 10_000
    from pxr import Usd, UsdSkel
    st = Usd.Stage.Open(str(out))
    skel = UsdSkel.Skeleton(st.GetPrimAtPath("/critter/Skeleton"))
    names = list(skel.GetJointNamesAttr().Get())
    assert names[0] == "body" and "tail" in names and len(names) == 7
    # rest pose skinned by UsdSkel equals the input mesh
    from sdk.io import load_asset
    v = load_asset(samples_dir / "critter.obj").mesh.vertices
    assert np.abs(skin_with_usdskel(out, 0) - v).max() < 1e-5


def test_cli_bad_input_names_problem_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.obj"
    bad.write_text("v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n")
    out = tmp_path / "o.usda"
    r = subprocess.run([sys.executable, "-m", "sdk.cli", "rig", str(bad), "-o", str(out)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 2
    assert "vertex 2" in r.stderr and "bad.obj" in r.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]
