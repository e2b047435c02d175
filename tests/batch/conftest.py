import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: the small library the batch tests share: 5 good files (3 characters, a prop, a motion clip) + 9 bad ones
KINDS = ["character_obj", "character_glb", "character_obj", "prop", "motion"]


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray (2 CPUs, no dashboard) for every batch test; workers see this checkout first."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install articulate-sdk[batch])")
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]),
           "OMP_NUM_THREADS": "1", "ARTICULATE_PROGRESS": "0"}
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING",
                 runtime_env={"env_vars": env})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def library(tmp_path_factory):
    from samples.make_library import make_library
    lib = tmp_path_factory.mktemp("library")
    expected = make_library(lib, seed=3, bad=9, kinds=KINDS)
    return lib, expected


@pytest.fixture(scope="session")
def first_run(ray_local, library, tmp_path_factory):
    """``articulate batch LIB -o OUT --workers 2`` once: (library, expected, OUT, exit code)."""
    from sdk.cli import main
    lib, expected = library
    out = tmp_path_factory.mktemp("out")
    rc = main(["batch", str(lib), "-o", str(out), "--workers", "2"])
    return lib, expected, out, rc
