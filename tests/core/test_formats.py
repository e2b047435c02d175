"""The format registry (sdk/io/formats.py): each format declared once; load/save dispatch through it."""
from __future__ import annotations

import numpy as np
import pytest

from sdk.errors import AssetReadError, InvalidInputError
from sdk.io import FORMATS, formats, load_asset, load_sequence, save


def test_every_suffix_has_one_format_and_roles_are_consistent():
    seen = {}
    for f in FORMATS.values():
        for s in f.suffixes:
            assert s not in seen, (s, f.name, seen.get(s))
            seen[s] = f.name
    assert set(formats.suffixes("rig")) == {".gltf", ".glb", ".usd", ".usda", ".usdc", ".usdz", ".npz", ".fbx"}
    assert set(formats.suffixes("articulation")) == {".usd", ".usda", ".usdc", ".urdf"}
    assert ".urdf" in formats.suffixes("asset") and ".urdf" not in formats.suffixes("asset", upload=True)
    assert ".npy" in formats.suffixes("sequence") and ".npy" not in formats.suffixes("sequence", upload=True)
    assert formats.up_axis_of("x.urdf") == "z" and formats.up_axis_of("x.obj") == "y"
    assert formats.scene_options("a.usda", up_axis="Z", meters_per_unit=0.01) == {"up_axis": "Z",
                                                                                  "meters_per_unit": 0.01}
    assert formats.scene_options("a.glb", up_axis="Z") == {}
    with pytest.raises(ValueError, match="already taken"):
        formats.register(formats.Format("dup", (".obj",), "duplicate"))


def test_save_dispatches_by_kind_and_suffix(tmp_path, samples_dir):
    a = load_asset(samples_dir / "arm.obj")
    out = save(a.mesh, tmp_path / "arm_copy.obj")
    b = load_asset(out)
    np.testing.assert_allclose(b.mesh.vertices, a.mesh.vertices, atol=1e-6)
    np.testing.assert_array_equal(b.mesh.faces, a.mesh.faces)
    with pytest.raises(InvalidInputError, match="unknown output format '.usdz' for a articulation"):
        formats.check_output(tmp_path / "x.usdz", "articulation")  # packages are written for rigs only
    with pytest.raises(InvalidInputError) as e:
        formats.check_output(tmp_path / "x.fbx", "articulation", field="output")
    assert e.value.field == "output" and ".urdf" in str(e.value)
    with pytest.raises(TypeError, match="no writer"):
        save(object(), tmp_path / "x.usda")


def test_sequence_roundtrip_and_labels(tmp_path):
    from sdk.core import MeshSequence
    v = np.random.default_rng(0).normal(size=(3, 4, 3))
    seq = MeshSequence(v, np.array([[0, 1, 2], [0, 2, 3]]), 24.0, "s")
    p = save(seq, tmp_path / "s.npz")
    back = load_sequence(p)
    np.testing.assert_allclose(back.vertices, v, atol=1e-6)
    assert back.fps == 24.0 and load_sequence(p, fps=10).fps == 10
    np.save(tmp_path / "lab.npy", np.array([0, 1, 1]))
    (tmp_path / "lab.txt").write_text("0 1 1\n")
    assert formats.load_labels(tmp_path / "lab.npy").tolist() == formats.load_labels(tmp_path / "lab.txt").tolist()
    with pytest.raises(AssetReadError, match="unsupported"):
        load_sequence(tmp_path / "lab.txt")
