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


@pytest.fixture
def blob_frames():
    """3 frames of a marching-cubed blob moving rigidly, each sampled on a different grid (unrelated topology)."""
    from skimage.measure import marching_cubes
    rng = np.random.default_rng(0)
    out = []
    for t in range(3):
        s = rng.uniform(-0.03, 0.03, 3)
        g = np.linspace(-1.3, 1.3, 18)
        X, Y, Z = np.meshgrid(g + s[0], g + s[1], g + s[2], indexing="ij")
        X = X - 0.05 * t
        sdf = np.minimum(np.sqrt(X ** 2 + (Y / 0.6) ** 2 + (Z / 0.45) ** 2) - 1,
                         np.sqrt((X - 0.6) ** 2 + (Y - 0.45) ** 2 + Z ** 2) - 0.35)
        v, f, _, _ = marching_cubes(sdf, 0.0, spacing=(g[1] - g[0],) * 3)
        out.append(Mesh(v + g[0] + s, f[:, ::-1].astype(np.int64), name=f"f{t}"))
    return MeshFrames(out, fps=10, name="blob")
