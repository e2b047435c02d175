"""Plausibility metrics of simulated / kinematic body trajectories (metres, y up, ground at 0)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from .model import PhysicsSkeleton
from .tracking import box_corners


@dataclass
class MotionMetrics:
    tracking_pos_pct: float  # mean root-relative body-origin error vs the target, % of rig height
    root_pos_pct: float  # mean root position error vs the target, % of rig height
    tracking_joint_deg: float  # mean geodesic error of the joint rotations (parent⁻¹·child) vs the target
    penetration_pct: float  # max cuboid depth below the ground, % of rig height
    min_foot_height_pct: float  # lowest foot-box corner over the clip, % of H (≈ 0 when grounded)
    max_tilt_deg: float  # max angle of the root's up vector from its frame-0 direction
    fell: bool  # a body outside the legs (trunk, neck, head, tail) touches the ground where the kinematic clip's
    # same body does not, or tilt > 60° (the fall test of physics-based character control, e.g. DeepMimic's early
    # termination on torso/head contact); without leg bodies given: ``fell_root_height``
    foot_slide: float  # mean horizontal speed of feet in contact, rig heights per second
    fall_frame: int  # first frame of a fall (-1: none)
    fell_root_height: bool = False  # the previous stop's criterion, kept beside it: root height < 0.7 × the kinematic
    # root's height at the same frame, or tilt > 60° (a 30% crouch deeper than the clip's counts although no body
    # but the feet touches the ground)
    fall_frame_root_height: int = -1
    fall_body: str = ""  # the body whose ground contact made ``fell`` (empty: none, or the tilt)
    max_tilt_vs_clip_deg: float = 0.0  # max angle between the root's up vector and the kinematic root's up at the
    # same frame: the tilt the simulation adds to the clip's own (a gallop pitches ~14° by itself, which
    # ``max_tilt_deg`` counts)

    def as_dict(self) -> dict:
        return asdict(self)


def _joint_error_deg(q: np.ndarray, ref: np.ndarray, parent: np.ndarray) -> float:
    errs = []
    for b in range(1, q.shape[1]):
        p = int(parent[b])
        rs = Rotation.from_quat(q[:, p, 3:]).inv() * Rotation.from_quat(q[:, b, 3:])
        rr = Rotation.from_quat(ref[:, p, 3:]).inv() * Rotation.from_quat(ref[:, b, 3:])
        errs.append(np.degrees((rs.inv() * rr).magnitude()))
    return float(np.mean(errs)) if errs else 0.0


def leg_bodies(phys: PhysicsSkeleton, parents: np.ndarray, chains: list[list[int]]) -> list[int]:
    """Bodies of the legs: a body whose rig joint, or an ancestor of it, is on a leg chain (top … foot)."""
    on = {int(j) for c in chains for j in c}
    out = []
    for b, j in enumerate(phys.joints):
        k = int(j)
        while k >= 0 and k not in on:
            k = int(parents[k])
        if k >= 0:
            out.append(b)
    return out


def motion_metrics(phys: PhysicsSkeleton, q: np.ndarray, ref: np.ndarray, fps: float, height: float,
                   foot_bodies: list[int], contact_frac: float = 0.02, legs: list[int] | None = None,
                   body_contact_frac: float = 0.01) -> MotionMetrics:
    """q, ref [F, B, 7] (xyzw). ``foot_bodies``: bodies of the feet. ``height``: rig height in metres.
    ``legs``: the bodies allowed to touch the ground (``leg_bodies``); any other body whose lowest corner is within
    ``body_contact_frac`` × height of the ground (ours: 1% H, the contact depth scale) where the kinematic clip's is
    not is a fall."""
    corners = box_corners(phys, q)  # [F, B, 8, 3]
    pen = float(np.maximum(0.0, -corners[..., 1]).max()) / height * 100
    rel = lambda x: x[1:, :, :3] - x[1:, :1, :3]
    pos = float(np.linalg.norm(rel(q) - rel(ref), axis=-1).mean()) / height * 100 if len(q) > 1 else 0.0
    rpos = float(np.linalg.norm(q[1:, 0, :3] - ref[1:, 0, :3], axis=-1).mean()) / height * 100 if len(q) > 1 else 0.0
    jerr = _joint_error_deg(q[1:], ref[1:], phys.parent_body) if len(q) > 1 else 0.0
    R = Rotation.from_quat(q[:, 0, 3:])
    up0 = np.array([0.0, 1.0, 0.0])
    local = Rotation.from_quat(q[0, 0, 3:]).inv().apply(up0)
    ups = R.apply(np.tile(local, (len(q), 1)))
    tilt = np.degrees(np.arccos(np.clip(ups @ up0, -1, 1)))
    ups_ref = Rotation.from_quat(ref[:, 0, 3:]).apply(np.tile(Rotation.from_quat(ref[0, 0, 3:]).inv().apply(up0),
                                                               (len(ref), 1)))
    tilt_rel = np.degrees(np.arccos(np.clip((ups * ups_ref).sum(1), -1, 1)))
    # vs the target's own height per frame: a gallop's root legitimately drops 30% within a stride (Q-Wolf Gallop's
    # kinematic root 0.239 → 0.166 m), which a frame-0 threshold flagged as a fall of the clip itself
    fall_h = (q[:, 0, 1] < 0.7 * ref[:, 0, 1]) | (tilt > 60)
    ff_h = int(np.flatnonzero(fall_h)[0]) if fall_h.any() else -1
    fall_body = ""
    if legs is None:
        fall, fall_frame = fall_h, ff_h
    else:
        other = np.array([b for b in range(q.shape[1]) if b not in set(legs)], dtype=int)
        low = corners[:, other][..., 1].min(-1)  # [F, nb]
        low_ref = box_corners(phys, ref)[:, other][..., 1].min(-1)
        lim = body_contact_frac * height
        touch = (low < lim) & ~(low_ref < lim)  # [F, nb]
        fall = touch.any(1) | (tilt > 60)
        fall_frame = int(np.flatnonzero(fall)[0]) if fall.any() else -1
        if fall_frame >= 0 and touch[fall_frame].any():
            fall_body = phys.names[int(other[np.flatnonzero(touch[fall_frame])[0]])]
    feet_c = corners[:, foot_bodies]  # [F, nf, 8, 3]
    low = feet_c[..., 1].min(-1)  # [F, nf]
    minfoot = float(low.min()) / height * 100 if len(foot_bodies) else 0.0
    contact = low < contact_frac * height
    ctr = feet_c.mean(2)  # [F, nf, 3]
    v = np.diff(ctr, axis=0) * fps
    hv = np.linalg.norm(v[..., [0, 2]], axis=-1)
    c2 = contact[1:] & contact[:-1]
    slide = float(hv[c2].mean()) / height if c2.any() else 0.0
    return MotionMetrics(pos, rpos, jerr, pen, minfoot, float(tilt.max()), bool(fall.any()), slide, fall_frame,
                         bool(fall_h.any()), ff_h, fall_body, float(tilt_rel.max()))
