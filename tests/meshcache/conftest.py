import numpy as np
import pytest

from sdk.core import Mesh, MeshFrames, MeshSequence


@pytest.fixture(scope="session")
def cesium_seq(shared_data):
    from sdk.motionrig.sequence import load_gltf_clip
    return load_gltf_clip(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb")


@pytest.fixture(scope="session")
def fox_walk(shared_data):
    from sdk.motionrig.sequence import load_gltf_clip
    return load_gltf_clip(shared_data / "rigged" / "Fox" / "Fox.glb", "Walk")


@pytest.fixture
def varying_frames():
    return _varying_frames


def _varying_frames(n: int = 4) -> MeshFrames:
    """Frames whose vertex and face counts change: an n-gon fan growing by one vertex per frame."""
    out = []
    for t in range(n):
        k = 4 + t
        a = np.linspace(0, 2 * np.pi, k, endpoint=False)
        v = np.c_[np.cos(a), np.sin(a), np.full(k, 0.1 * t)]
        v = np.r_[[[0, 0, 0.1 * t]], v]
        f = np.array([[0, 1 + i, 1 + (i + 1) % k] for i in range(k)])
        uv = (v[:, :2] * 0.4 + 0.5).astype(np.float32)
        out.append(Mesh(v, f, name=f"f{t}", uvs=uv))
    return MeshFrames(out, fps=24.0, name="grow")
