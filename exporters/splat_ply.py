"""3D Gaussian splats as the de-facto 3DGS ``.ply`` (Inria layout, read by SuperSplat, gsplat viewers, Unity/Unreal
3DGS plug-ins): x y z, nx ny nz (0), f_dc_0..2, f_rest_0..(3(K-1)-1) (channel-major, as 3DGS writes them),
opacity (logit), scale_0..2 (log), rot_0..3 (w x y z). One file per frame for a ``GaussianSequence``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdk.core.gaussians import GaussianCloud, GaussianSequence
from sdk.util.atomic import atomic_path


def _fields(k: int) -> list[str]:
    return (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
            + [f"f_rest_{i}" for i in range(3 * (k - 1))] + ["opacity", "scale_0", "scale_1", "scale_2",
                                                             "rot_0", "rot_1", "rot_2", "rot_3"])


def write_splat_ply(cloud: GaussianCloud, path) -> Path:
    cloud.validate(source=str(path))
    n, k = cloud.n, cloud.sh.shape[1]
    op = np.clip(cloud.opacities, 1e-6, 1 - 1e-6)
    rest = cloud.sh[:, 1:, :].transpose(0, 2, 1).reshape(n, -1)  # [N, 3 * (K - 1)] channel-major
    q = cloud.quats / np.linalg.norm(cloud.quats, axis=1, keepdims=True)
    data = np.concatenate([cloud.means, np.zeros((n, 3)), cloud.sh[:, 0, :], rest, np.log(op / (1 - op))[:, None],
                           np.log(np.maximum(cloud.scales, 1e-12)), q], axis=1).astype("<f4")
    names = _fields(k)
    header = "ply\nformat binary_little_endian 1.0\nelement vertex %d\n" % n + "".join(
        f"property float {p}\n" for p in names) + "end_header\n"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(header.encode("ascii"))
            fh.write(data.tobytes())
    return Path(path)


def read_splat_ply(path) -> GaussianCloud:
    """Read a 3DGS .ply written by :func:`write_splat_ply` (or by 3DGS itself)."""
    from sdk.errors import AssetReadError
    raw = Path(path).read_bytes()
    end = raw.find(b"end_header\n")
    if not raw.startswith(b"ply") or end < 0:
        raise AssetReadError(path, "not a PLY file")
    lines = raw[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in lines:
        raise AssetReadError(path, "only binary little-endian 3DGS PLY is supported")
    n = int(next(ln.split()[2] for ln in lines if ln.startswith("element vertex")))
    names = [ln.split()[2] for ln in lines if ln.startswith("property float")]
    a = np.frombuffer(raw[end + 11:], dtype="<f4", count=n * len(names)).reshape(n, len(names))
    col = {nm: a[:, i] for i, nm in enumerate(names)}
    nrest = sum(nm.startswith("f_rest_") for nm in names)
    k = 1 + nrest // 3
    dc = np.stack([col[f"f_dc_{i}"] for i in range(3)], 1)
    rest = np.stack([col[f"f_rest_{i}"] for i in range(nrest)], 1).reshape(n, 3, k - 1).transpose(0, 2, 1) \
        if nrest else np.zeros((n, 0, 3))
    sh = np.concatenate([dc[:, None], rest], 1)
    return GaussianCloud(np.stack([col["x"], col["y"], col["z"]], 1),
                         np.stack([col[f"rot_{i}"] for i in range(4)], 1),
                         np.exp(np.stack([col[f"scale_{i}"] for i in range(3)], 1)),
                         1 / (1 + np.exp(-col["opacity"])), sh)


def write_splat_ply_sequence(seq: GaussianSequence, folder, stem: str = "frame") -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_splat_ply(seq.frame(i), folder / f"{stem}_{i:04d}.ply") for i in range(seq.n_frames)]
