import importlib.util
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _arm_module():
    spec = importlib.util.spec_from_file_location("make_motion_sample", ROOT / "samples" / "make_motion_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def arm():
    return _arm_module().make_arm_sequence()


@pytest.fixture(scope="session")
def arm_rig(arm):
    from sdk.motionrig import MeshSequence
    from sdk.motionrig.pipeline import rig_from_motion
    seq = MeshSequence(arm["vertices"], arm["faces"], arm["fps"], "arm")
    return rig_from_motion(seq, iterations=8)
