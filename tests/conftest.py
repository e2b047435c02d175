import os
from pathlib import Path

import pytest

os.environ.setdefault("ARTICULATE_PROGRESS", "0")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARTICULATE_SHARED_DATA", ROOT.parent / "shared" / "data"))
RIGGED = SHARED / "rigged"
ARTICULATED = SHARED / "articulated"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.exists():
        pytest.skip(f"shared test data not found at {SHARED} (set ARTICULATE_SHARED_DATA)")
    return SHARED


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return ROOT / "samples"
