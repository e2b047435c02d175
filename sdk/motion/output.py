"""Write a synthesised / tracked motion: USD SkelAnimation (validator-checked), glTF animation, GIF preview."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..core import Animation, Rig
from ..errors import InvalidInputError
from .kinematics import KinematicRig, MotionParams

USD_SUFFIXES = (".usd", ".usda", ".usdc")
GLTF_SUFFIXES = (".gltf", ".glb")


def check_output(path) -> Path:
    out = Path(path)
    if out.suffix.lower() not in USD_SUFFIXES + GLTF_SUFFIXES:
        raise InvalidInputError(f"unknown output format '{out.suffix}' (use .usda, .usdc, .usd, .glb or .gltf)",
                                field="output")
    return out


def write_motion(rig: Rig, anim: Animation, path, *, validate: bool = True) -> tuple[Path, list[str]]:
    """The rig with ``anim`` as its only animation, written atomically by extension; USD is validated
    (``exporters.validate``) and returns the problems found (empty = clean)."""
    out = check_output(path)
    r = Rig(rig.mesh, rig.skeleton, rig.skin, rig.parts, [anim], rig.joint_parts, dict(rig.metadata))
    r.validate()
    problems: list[str] = []
    if out.suffix.lower() in USD_SUFFIXES:
        from exporters.usd import write_rig_usd
        write_rig_usd(r, out)
        if validate:
            from exporters.validate import validate_usd
            problems = validate_usd(out)
    else:
        from exporters.gltf import write_rig_gltf
        write_rig_gltf(r, out)
    return out, problems


def export_motion(rig: Rig, anim: Animation, path, *, preview=None, kin: KinematicRig | None = None,
                  params: MotionParams | None = None, progress=None) -> Path | None:
    """What ``animate`` and ``physics-track`` write: the motion (:func:`write_motion`; a stage the validators flag is
    an ``InvalidInputError`` naming it) and, when ``preview`` is a path, its GIF (:func:`write_gif`; ``kin`` /
    ``params`` default to the rig's and the animation's own). Returns the preview's path or None."""
    if progress is not None:
        progress(0.92, "export")
    out, problems = write_motion(rig, anim, path)
    if problems:
        raise InvalidInputError(f"USD validation failed for {out}: {problems[0]}", field="output")
    if preview is None:
        return None
    if progress is not None:
        progress(0.95, "preview")
    if kin is None:
        kin = KinematicRig(rig)
    if params is None:
        params = kin.params_from_animation(anim)
    return write_gif(kin, params, preview, fps=anim.fps)


def write_gif(kin: KinematicRig, params: MotionParams, path, *, size: int = 160, n_gaussians: int = 4000,
              fps: float = 30.0, max_frames: int = 60, backend: str = "auto") -> Path:
    """GIF of the motion as skinned Gaussians over the checkerboard ground with shadows (the AKD look)."""
    from PIL import Image

    from ..util.atomic import atomic_path
    from .render import SkinnedGaussians, camera_path, render_motion
    from .scene import CameraConfig
    step = max(1, int(np.ceil(params.n_frames / max_frames)))
    p = MotionParams(params.angles[::step].float(), params.root[::step].float())
    k32 = kin if kin.dtype == torch.float32 else KinematicRig(kin.rig, dtype=torch.float32)
    sg = SkinnedGaussians.from_rig(k32, n_gaussians)
    frames = []
    cam = CameraConfig()
    path_c = camera_path(k32, sg, p, cam.smoothing)  # the whole clip's smoothed path, once
    cam = CameraConfig(smoothing=0.0)
    with torch.no_grad():
        for i in range(0, p.n_frames, 8):  # bounded memory per render call
            sub = MotionParams(p.angles[i:i + 8], p.root[i:i + 8])
            vid, _ = render_motion(k32, sg, sub, size=(size, size), backend=backend, camera=cam,
                                   centers=path_c[i:i + 8])
            frames += [(v.clamp(0, 1).numpy() * 255).astype(np.uint8) for v in vid]
    imgs = [Image.fromarray(f) for f in frames]
    out = Path(path)
    with atomic_path(out) as tmp:
        imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=int(1000 * step / fps), loop=0)
    return out
