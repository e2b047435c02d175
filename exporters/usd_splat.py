"""Gaussian splats as OpenUSD ``ParticleField3DGaussianSplat`` prims (UsdVol, present in usd-core 26.11; the
schema family ``UsdVolParticleField*`` first shipped with OpenUSD 25.11 -- verify for older pipelines).

Attributes written (time-sampled for a sequence): ``positions`` (point3f[]), ``orientations`` (quatf[], w x y z),
``scales`` (float3[], the per-axis standard deviations), ``opacities`` (float[]), and
``radiance:sphericalHarmonicsCoefficients`` (float3[], K per particle) with ``radiance:sphericalHarmonicsDegree``.
Static data (opacities, SH when not per-frame) are written once, as defaults.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdk.core.gaussians import GaussianCloud, GaussianSequence
from sdk.util.atomic import atomic_path

from ._pxr import pxr


def has_particle_field_schema() -> bool:
    UsdVol = pxr("UsdVol")
    return hasattr(UsdVol, "ParticleField3DGaussianSplat")


def write_splats_usd(data: GaussianCloud | GaussianSequence, path, *, name: str = "Splats",
                     up_axis: str = "Y", meters_per_unit: float = 1.0) -> Path:
    Usd, UsdGeom, UsdVol, Vt, Gf, Sdf = pxr("Usd", "UsdGeom", "UsdVol", "Vt", "Gf", "Sdf")
    if not hasattr(UsdVol, "ParticleField3DGaussianSplat"):
        from sdk.errors import MissingDependencyError
        raise MissingDependencyError("usd-core>=25.11", "UsdVol.ParticleField3DGaussianSplat export")
    seq = data if isinstance(data, GaussianSequence) else GaussianSequence(
        data.means[None], data.quats[None], data.scales[None], data.opacities, data.sh)
    seq.validate(source=str(path))
    with atomic_path(path) as tmp:
        stage = Usd.Stage.CreateNew(str(tmp))
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y if up_axis.upper() == "Y" else UsdGeom.Tokens.z)
        UsdGeom.SetStageMetersPerUnit(stage, meters_per_unit)
        root = UsdGeom.Xform.Define(stage, f"/{name}")
        stage.SetDefaultPrim(root.GetPrim())
        pf = UsdVol.ParticleField3DGaussianSplat.Define(stage, f"/{name}/Gaussians")
        t_n = seq.n_frames
        if t_n > 1:
            stage.SetStartTimeCode(0)
            stage.SetEndTimeCode(t_n - 1)
            stage.SetTimeCodesPerSecond(seq.fps)
            stage.SetFramesPerSecond(seq.fps)
        prim = pf.GetPrim()
        k = seq.sh.shape[-2]
        prim.GetAttribute("radiance:sphericalHarmonicsDegree").Set(int(round(np.sqrt(k))) - 1)
        sh_attr = prim.GetAttribute("radiance:sphericalHarmonicsCoefficients")
        op_attr = prim.GetAttribute("opacities")
        if seq.opacities.ndim == 1:
            op_attr.Set(Vt.FloatArray.FromNumpy(seq.opacities.astype(np.float32)))
        if seq.sh.ndim == 3:
            sh_attr.Set(Vt.Vec3fArray.FromNumpy(seq.sh.reshape(-1, 3).astype(np.float32)))
        extent_attr = pf.GetExtentAttr()
        for i in range(t_n):
            tc = Usd.TimeCode(i) if t_n > 1 else Usd.TimeCode.Default()
            fr = seq.frame(i)
            q = fr.quats / np.linalg.norm(fr.quats, axis=1, keepdims=True)
            prim.GetAttribute("positions").Set(Vt.Vec3fArray.FromNumpy(fr.means.astype(np.float32)), tc)
            prim.GetAttribute("orientations").Set(Vt.QuatfArray.FromNumpy(
                np.concatenate([q[:, 1:], q[:, :1]], 1).astype(np.float32)), tc)  # Vt quats are (i, j, k, real)
            prim.GetAttribute("scales").Set(Vt.Vec3fArray.FromNumpy(fr.scales.astype(np.float32)), tc)
            if seq.opacities.ndim == 2:
                op_attr.Set(Vt.FloatArray.FromNumpy(fr.opacities.astype(np.float32)), tc)
            if seq.sh.ndim == 4:
                sh_attr.Set(Vt.Vec3fArray.FromNumpy(fr.sh.reshape(-1, 3).astype(np.float32)), tc)
            r = 3 * fr.scales.max(1, keepdims=True)
            lo, hi = (fr.means - r).min(0), (fr.means + r).max(0)
            extent_attr.Set(Vt.Vec3fArray([Gf.Vec3f(*map(float, lo)), Gf.Vec3f(*map(float, hi))]), tc)
        stage.GetRootLayer().Save()
    return Path(path)
