import warnings

import numpy as np
import pytest

from sdk.errors import AssetReadError, InvalidInputError
from sdk.motionrig import MeshSequence, MotionWarning, save_npz
from sdk.motionrig.pipeline import rig_from_motion
from sdk.motionrig.sequence import load_sequence


def _write_obj(path, v, f):
    path.write_text("".join(f"v {a} {b} {c}\n" for a, b, c in v) + "".join(f"f {a+1} {b+1} {c+1}\n" for a, b, c in f))


def test_topology_change_in_frame_folder(tmp_path, arm):
    v, f = arm["vertices"], arm["faces"]
    for i in range(3):
        _write_obj(tmp_path / f"frame_{i}.obj", v[i], f if i != 2 else f[:-1])
    with pytest.raises(InvalidInputError, match="topology changes at frame 2"):
        load_sequence(tmp_path)


def test_frame_folder_natural_order(tmp_path, arm):
    v, f = arm["vertices"], arm["faces"]
    for i in (0, 1, 2, 10):
        _write_obj(tmp_path / f"frame_{i}.obj", v[i], f)
    seq = load_sequence(tmp_path)
    assert seq.n_frames == 4
    np.testing.assert_allclose(seq.vertices[3], v[10], atol=1e-6)
    np.testing.assert_allclose(seq.vertices[2], v[2], atol=1e-6)


def test_nan_frame_is_named_or_dropped(arm):
    v = arm["vertices"].copy()
    v[5, 17] = np.nan
    with pytest.raises(InvalidInputError, match="frame 5, vertex 17"):
        MeshSequence(v, arm["faces"]).validate()
    with pytest.warns(MotionWarning, match="dropped"):
        s = MeshSequence(v, arm["faces"]).validate(nan_frames="drop")
    assert s.n_frames == v.shape[0] - 1
    v[0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="frame 0"):
        MeshSequence(v, arm["faces"]).validate(nan_frames="drop")


def test_single_frame_is_an_error(arm):
    with pytest.raises(InvalidInputError, match="1 frame"):
        rig_from_motion(MeshSequence(arm["vertices"][:1], arm["faces"]))


def test_no_motion_warns_then_errors(arm):
    v = np.repeat(arm["vertices"][:1], 5, axis=0)
    with pytest.warns(MotionWarning, match="no motion"):
        MeshSequence(v, arm["faces"]).validate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MotionWarning)
        with pytest.raises(InvalidInputError, match="no motion"):
            rig_from_motion(MeshSequence(v, arm["faces"]))


def test_bad_shapes_and_files(tmp_path):
    with pytest.raises(InvalidInputError, match=r"\[T, V, 3\]"):
        MeshSequence(np.zeros((4, 5, 2)))
    np.save(tmp_path / "t.npy", np.zeros((10, 3)))
    with pytest.raises(InvalidInputError, match=r"\[N, T, 3\]"):
        load_sequence(tmp_path / "t.npy")
    with pytest.raises(AssetReadError, match="no such file"):
        load_sequence(tmp_path / "missing.npz")
    (tmp_path / "x.abc").write_text("x")
    with pytest.raises(AssetReadError, match="unsupported"):
        load_sequence(tmp_path / "x.abc")
    with pytest.raises(InvalidInputError, match="face 0 references vertex out of range"):
        MeshSequence(np.zeros((2, 3, 3)), np.array([[0, 1, 5]])).validate()


def test_cli_bad_output_writes_nothing(tmp_path, samples_dir):
    from sdk.cli import main
    out = tmp_path / "out.xyz"
    assert main(["rig-from-motion", str(samples_dir / "arm_motion.npz"), "-o", str(out)]) == 2
    assert not out.exists()
    single = tmp_path / "single.npz"
    save_npz(MeshSequence(np.load(samples_dir / "arm_motion.npz")["vertices"][:1]), single)
    out2 = tmp_path / "o.usda"
    assert main(["rig-from-motion", str(single), "-o", str(out2)]) == 2
    assert not out2.exists() and not list(tmp_path.glob(".o.*"))
