"""``animate(rig, prompt)``: text → motion, the orchestration of ``sdk.motion`` (gaits, AKD distillation) and
``sdk.physics`` (tracking). Weight-free by default (procedural gait tracked by physics); given a video
``guidance`` (e.g. ``sdk.models.cogvideox.CogVideoXGuidance``, built by the caller), the AKD distillation."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core import Animation, Rig
from ..errors import InvalidInputError
from ..motion.gait import GEN_LOG, GenerateConfig, detect_legs, gait_statistics, generate_gait, parse_prompt
from ..motion.kinematics import KinematicRig, MotionParams, reparent_detached

log = logging.getLogger(__name__)


@dataclass
class AnimateReport:
    prompt: str
    motion: str
    turn_rate: float
    method: str
    frames: int
    fps: float
    gait: dict = field(default_factory=dict)
    physics: dict | None = None


def animate(rig: Rig, prompt: str, *, seconds: float = 2.0, fps: float = 30.0, method: str = "procedural",
            physics: bool = True, physics_iterations: int = 5, progress=None, guidance=None) -> tuple[Rig, Animation, AnimateReport, KinematicRig, MotionParams]:
    """Returns (rig used, animation, report, kinematic rig, Θ of the animation)."""
    if not prompt or not prompt.strip():
        raise InvalidInputError("the prompt is empty", field="--prompt")
    if not seconds > 0:
        raise InvalidInputError(f"--seconds must be positive, got {seconds}", field="--seconds")
    motion, turn = parse_prompt(prompt)
    rig2, _ = reparent_detached(rig)
    kin = KinematicRig(rig2)
    if method == "sds":
        from ..motion.distill import DistillConfig, distill
        if guidance is None:
            raise InvalidInputError("method 'sds' needs a video guidance model", field="--method")
        params, _ = distill(kin, guidance, DistillConfig(), progress=progress)
        fps = DistillConfig().fps
    elif method == "procedural":
        cfg = GenerateConfig(fps=fps, seconds=seconds)
        params = generate_gait(kin, motion, turn, cfg,
                               progress=(lambda f, m: progress(0.4 * f, m)) if progress else None)
    else:
        raise InvalidInputError(f"unknown method {method!r} (procedural or sds)", field="--method")
    legs = detect_legs(kin)
    stats = {}
    if motion in ("walk", "trot", "run", "gallop") and "cycle_s" in GEN_LOG:
        st = gait_statistics(kin, params, fps, legs, looped=False, cycle_frames=GEN_LOG["cycle_s"] * fps)
        stats = {"duty": st.duty, "phase": st.phase, "stride_over_height": st.stride_over_height,
                 "stance_speed_H_per_s": st.stance_speed, "foot_ik_rmse_over_H": GEN_LOG.get("foot_rmse_over_H")}
    report = AnimateReport(prompt, motion, turn, method, params.n_frames, fps, stats)
    name = motion if not turn else f"{motion}_turn"
    if physics:
        from ..physics.pipeline import physics_track, prepare
        from ..physics.tracking import TrackingConfig
        k64 = KinematicRig(rig2, dtype=torch.float64)
        p64 = MotionParams(params.angles.double(), params.root.double())
        rig3, anim, rep = physics_track(rig2, name, params=p64, fps=fps, rebuild_root="never",
                                        tcfg=TrackingConfig(iterations=physics_iterations),
                                        prepared=(rig2, k64, []),
                                        progress=(lambda f, m: progress(0.4 + 0.5 * f, m)) if progress else None)
        report.physics = rep.as_dict()
        return rig3, anim, report, kin, kin.params_from_animation(anim)
    return rig2, kin.animation_from_params(params, name, fps), report, kin, params
