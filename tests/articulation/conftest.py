import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "articulated"


def _cabinet_module():
    spec = importlib.util.spec_from_file_location("make_cabinet", ROOT / "samples" / "make_cabinet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def cabinet_mod():
    return _cabinet_module()


@pytest.fixture(scope="session")
def cabinet(tmp_path_factory, cabinet_mod):
    from sdk.io import load_asset
    p = cabinet_mod.write_obj(tmp_path_factory.mktemp("cab") / "cabinet.obj")
    return load_asset(p)


@pytest.fixture(scope="session")
def cabinet_art(cabinet):
    from sdk.articulation.articulate import articulate_object
    return articulate_object(cabinet, {"door": "open the door", "drawer": "pull out the drawer", "lid": "lift the lid"},
                             progress=False)


def need_shared(sub: str) -> Path:
    p = SHARED / sub
    if not p.exists():
        pytest.skip(f"shared articulated data not present: {p}")
    return p


def line_distance(o1, d1, o2, d2):
    from sdk.evaluation.joints import line_distance as ld
    return ld(o1, d1, o2, d2)


def angle_deg(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.rad2deg(np.arccos(np.clip(abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b), 0, 1))))
