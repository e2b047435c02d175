"""Legs, gait statistics and a weight-free procedural gait generator (the default motion source of
``articulate animate``).

* ``detect_legs``: feet = leaves of the main joint tree (helpers excluded) whose rest height is within
  ``foot_height`` of the ground; side from the lateral coordinate, front/hind from the forward coordinate
  (glTF convention: the character faces +Z, +X is its left; configurable).
* ``gait_statistics``: per foot, contact = height within ``contact_height`` of its minimum; duty factor = contact
  fraction; phase offset = touchdown time relative to the reference foot (left hind / left), in cycles;
  stride/height = forward travel per cycle of a stance foot relative to the root / rig height.
* ``generate_gait``: stance feet pinned in the world, swing arcs, root advancing at a Froude-scaled speed, then
  joint angles solved with the same torch FK + Adam as AKD (foot targets + posture + Eq. 9 smoothness + Eq. 10).

Gait table values (duty, phase offsets) are ours, calibrated on the shared animators' clips (spec §4): quadruped
walk duty 0.56–0.69.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InvalidInputError
from .kinematics import KinematicRig, MotionParams
from .losses import smoothness_loss


@dataclass
class Leg:
    foot: int  # joint id of the foot bone
    chain: list[int]  # joints from the leg's top (child of the body) to the foot
    side: str  # "L" | "R"
    end: str  # "front" | "hind" (bipeds: "hind")
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))  # foot point in the foot bone's bind frame

    @property
    def label(self) -> str:
        return ("LF" if self.side == "L" else "RF") if self.end == "front" else ("LH" if self.side == "L" else "RH")


@dataclass
class Frame:
    up: int = 1  # Y up
    forward: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 1.0]))  # glTF: the character faces +Z
    left: np.ndarray = field(default_factory=lambda: np.array([1.0, 0.0, 0.0]))


def rig_height(kin: KinematicRig) -> float:
    v = kin.rig.mesh.vertices
    return float(np.ptp(v[:, 1]))


def _foot_points(kin: KinematicRig, foot_height: float):
    """Leaf bones whose own skinned vertices reach the ground: (joint, foot point in its bind frame, world)."""
    rig = kin.rig
    sk = rig.skeleton
    v = rig.mesh.vertices
    g, H = float(v[:, 1].min()), rig_height(kin)
    top = rig.skin.indices[np.arange(len(v)), rig.skin.weights.argmax(1)]
    main = set([kin.root] + kin.driven)
    kids = {j: [c for c in sk.children(j) if c in main and not kin.helper[c]] for j in main}
    out = []
    for j in sorted(main):
        if kids[j] or kin.helper[j] or j == kin.root:
            continue
        pts = v[top == j]
        if not len(pts) or pts[:, 1].min() - g > foot_height * H:
            continue
        low = pts[pts[:, 1] <= pts[:, 1].min() + 0.05 * H]
        pw = low.mean(0)
        inv = np.linalg.inv(sk.bind_world[j])
        out.append((j, inv[:3, :3] @ pw + inv[:3, 3], pw))
    return out, kids


def auto_frame(kin: KinematicRig, feet_world: np.ndarray) -> Frame:
    """Forward axis: +Z (glTF) unless four or more feet spread further along X; its sign points to the end nearer the
    highest vertex (the head, usually). Left = up × forward."""
    v = kin.rig.mesh.vertices
    fw = np.array([0.0, 0.0, 1.0])
    if len(feet_world) >= 4:
        spread = np.ptp(feet_world, axis=0)
        if spread[0] > spread[2]:
            fw = np.array([1.0, 0.0, 0.0])
        top = v[v[:, 1].argmax()]
        mid = feet_world.mean(0)
        if (top - mid) @ fw < 0:
            fw = -fw
    left = np.cross(np.array([0.0, 1.0, 0.0]), fw)
    return Frame(1, fw, left)


def detect_legs(kin: KinematicRig, foot_height: float = 0.08, frame: Frame | None = None) -> list[Leg]:
    """Legs of a rig; raises InvalidInputError if no bone touches the ground (nothing to walk on)."""
    feet, kids = _foot_points(kin, foot_height)
    if not feet:
        raise InvalidInputError(f"no bone of the rig touches the ground (no leaf bone with skin within {foot_height:.0%}"
                                f" of the rig height of its lowest point); cannot walk or track it", field="rig")
    frame = frame or auto_frame(kin, np.array([f[2] for f in feet]))
    sk = kin.rig.skeleton
    root_p = kin.rest_world_np[kin.root][:3, 3]
    legs = []
    for f, off, pw in feet:
        chain = [f]
        p = int(sk.parents[f])
        # walk up while the chain does not branch (stop below the body joint that carries several limbs)
        while p >= 0 and p != kin.root and len(kids.get(p, [])) == 1:
            chain.append(p)
            p = int(sk.parents[p])
        chain = chain[::-1]
        d = pw - root_p
        side = "L" if float(d @ frame.left) >= 0 else "R"
        legs.append(Leg(f, chain, side, "front" if float(d @ frame.forward) > 0 else "hind", off))
    n_front = sum(l.end == "front" for l in legs)
    if len(legs) <= 2 or n_front == 0 or n_front == len(legs):  # a biped (or all feet on one end)
        for l in legs:
            l.end = "hind"
    return legs


def foot_positions(kin: KinematicRig, world, legs: list[Leg]):
    """World foot points [F, L, 3] from joint transforms [F, J, 4, 4] (torch or numpy)."""
    if isinstance(world, torch.Tensor):
        off = torch.as_tensor(np.array([l.offset for l in legs]), dtype=world.dtype)
        m = world[:, [l.foot for l in legs]]
        return torch.einsum("flab,lb->fla", m[..., :3, :3], off) + m[..., :3, 3]
    off = np.array([l.offset for l in legs])
    m = world[:, [l.foot for l in legs]]
    return np.einsum("flab,lb->fla", m[..., :3, :3], off) + m[..., :3, 3]


# ---------------------------------------------------------------------------------------------------------------
@dataclass
class GaitStats:
    labels: list[str]
    duty: dict  # label -> duty factor
    phase: dict  # label -> phase offset (cycles) relative to the reference foot
    stride_over_height: float
    stance_speed: float  # mean stance-foot horizontal speed / H per second (world frame)


def _feet_world(kin: KinematicRig, params: MotionParams, legs: list[Leg]) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        w = kin.fk(params).double().cpu().numpy()
    return foot_positions(kin, w, legs), w[:, kin.root, :3, 3]


def gait_statistics(kin: KinematicRig, params: MotionParams, fps: float, legs: list[Leg] | None = None,
                    contact_height: float = 0.03, frame: Frame | None = None, looped: bool = True,
                    cycle_frames: float | None = None) -> GaitStats:
    """Duty factors, phase offsets, stride/height and stance-foot speed of a clip: one cycle (animators' looping
    clips, the default) or several of ``cycle_frames`` frames each (generated motion)."""
    legs = legs or detect_legs(kin)
    frame = frame or auto_frame(kin, foot_positions(kin, kin.rest_world_np[None], legs)[0])
    H = rig_height(kin)
    feet, root = _feet_world(kin, params, legs)  # [F, L, 3], [F, 3]
    F = len(feet)
    if looped and F > 2 and np.allclose(feet[0] - root[0], feet[-1] - root[-1], atol=1e-2 * H):
        feet, root = feet[:-1], root[:-1]
        F -= 1
    y = feet[..., 1]
    contact = y <= y.min(0, keepdims=True) + contact_height * H  # [F, L]
    labels = [l.label for l in legs]
    duty = {lab: float(contact[:, i].mean()) for i, lab in enumerate(labels)}
    ref = labels.index("LH") if "LH" in labels else 0
    # touchdown = first contact frame after a swing frame (cyclic)
    def touchdown(c):
        on = np.flatnonzero(c & ~np.roll(c, 1)) if looped else np.flatnonzero(c[1:] & ~c[:-1]) + 1
        return float(on[0]) if len(on) else 0.0
    td = [touchdown(contact[:, i]) for i in range(len(legs))]
    cyc = float(cycle_frames or F)
    phase = {lab: float(((td[i] - td[ref]) / cyc) % 1.0) for i, lab in enumerate(labels)}
    rel = feet - root[:, None]
    fwd = rel @ frame.forward  # [F, L]
    stride = float(np.mean([np.ptp(fwd[contact[:, i], i]) if contact[:, i].any() else 0.0 for i in range(len(legs))]))
    vel = np.diff(feet, axis=0) * fps
    hv = np.linalg.norm(vel - vel[..., [frame.up]] * np.eye(3)[frame.up], axis=-1)  # horizontal speed
    st = contact[1:] & contact[:-1]
    speed = float(hv[st].mean() / H) if st.any() else 0.0
    return GaitStats(labels, duty, phase, stride / H, speed)


# ---------------------------------------------------------------------------------------------------------------
@dataclass
class GaitSpec:
    """One gait: duty factor, phase offsets per foot label, Froude number (speed), swing height."""
    name: str
    duty: float
    offsets: dict  # label -> phase offset in cycles
    froude: float  # v²/(g·L) (ours: 0.25 walk, ≥ 1 run)
    swing_height: float = 0.15  # × leg length (ours, 0.1–0.2 L)
    cycle_s: float = 1.0  # cycle duration at leg length 1 m, scaled by √L (dynamic similarity)


# Defaults, ours, calibrated on the shared Quaternius clips with gait_statistics (Walk: duty 0.57–0.72, lateral
# sequence LH 0 → LF 0.16–0.19 → RH 0.46–0.50 → RF 0.70–0.72 on all six; Gallop: duty 0.19–0.41, LF 0.44–0.47).
QUADRUPED = {
    "walk": GaitSpec("walk", 0.65, {"LH": 0.0, "LF": 0.18, "RH": 0.48, "RF": 0.71}, 0.25, 0.15, 1.0),
    "trot": GaitSpec("trot", 0.45, {"LH": 0.0, "RF": 0.0, "RH": 0.5, "LF": 0.5}, 0.8, 0.18, 0.7),
    "run": GaitSpec("run", 0.35, {"LH": 0.0, "LF": 0.0, "RH": 0.5, "RF": 0.5}, 1.5, 0.2, 0.65),  # AKD: ipsilateral in sync
    "gallop": GaitSpec("gallop", 0.3, {"LH": 0.0, "RH": 0.15, "LF": 0.46, "RF": 0.68}, 2.5, 0.2, 0.6),
}
BIPED = {
    "walk": GaitSpec("walk", 0.6, {"LH": 0.0, "RH": 0.5}, 0.25, 0.12, 1.1),
    "trot": GaitSpec("trot", 0.4, {"LH": 0.0, "RH": 0.5}, 0.8, 0.15, 0.8),
    "run": GaitSpec("run", 0.35, {"LH": 0.0, "RH": 0.5}, 1.2, 0.18, 0.7),
    "gallop": GaitSpec("gallop", 0.35, {"LH": 0.0, "RH": 0.5}, 1.5, 0.2, 0.65),
}

MOTION_WORDS = {
    "walk": ("walk", "walking", "walks", "stroll", "strolling", "step", "stepping"),
    "trot": ("trot", "trotting", "jog", "jogging"),
    "run": ("run", "running", "runs", "sprint", "sprinting", "dash"),
    "gallop": ("gallop", "galloping", "canter"),
    "jump": ("jump", "jumping", "jumps", "leap", "leaping", "hop", "hopping"),
    "idle": ("idle", "stand", "standing", "breathe", "breathing", "wait", "waiting", "still"),
    "turn": ("turn", "turning", "circle", "circling", "around"),
}


def parse_prompt(prompt: str) -> tuple[str, float]:
    """(motion, turn rate in rad/s) from a text prompt. No motion word -> ("idle", 0) with a warning."""
    words = re.findall(r"[a-z]+", prompt.lower())
    found = None
    for mode in ("gallop", "run", "trot", "jump", "walk", "idle"):
        if any(w in MOTION_WORDS[mode] for w in words):
            found = mode
            break
    turn = 0.0
    if any(w in MOTION_WORDS["turn"] for w in words):
        turn = 0.6 * (-1 if "right" in words else 1)  # ours: 0.6 rad/s
        found = found or "walk"
    if found is None:
        warnings.warn(f"prompt {prompt!r} has no motion word ({', '.join(sorted(sum(MOTION_WORDS.values(), ())))}); "
                      f"generating an idle motion")
        found = "idle"
    return found, turn


GEN_LOG: dict = {}  # diagnostics of the last generate_gait call (foot-target residual)


@dataclass
class GenerateConfig:
    fps: float = 30.0
    seconds: float = 2.0
    iterations: int = 300  # ours: Adam steps of the foot-target IK
    lr: float = 0.1  # ours
    w_posture: float = 1e-3  # ours
    w_smooth: float = 1e-2  # ours
    w_ground: float = 10.0  # ours
    seed: int = 0


def _leg_length(kin: KinematicRig, leg: Leg) -> float:
    rw = kin.rest_world_np
    foot = foot_positions(kin, rw[None], [leg])[0, 0]
    return float(abs(rw[leg.chain[0]][1, 3] - foot[1])) or rig_height(kin) * 0.3


def generate_gait(kin: KinematicRig, motion: str = "walk", turn_rate: float = 0.0,
                  cfg: GenerateConfig | None = None, legs: list[Leg] | None = None, frame: Frame | None = None,
                  scale_to_m: float | None = None, progress=None) -> MotionParams:
    """Procedural MotionParams for ``motion`` ∈ walk/trot/run/gallop/jump/idle (+ turning).

    ``scale_to_m``: rig units -> metres for the Froude/√L timing; default: the rig is taken as 1 m tall
    (ours, the same nominal height as the physics step; rig files carry no reliable unit)."""
    cfg = cfg or GenerateConfig()
    legs = legs or detect_legs(kin, frame=frame)
    frame = frame or auto_frame(kin, foot_positions(kin, kin.rest_world_np[None], legs)[0])
    H = rig_height(kin)
    scale_to_m = scale_to_m or 1.0 / H
    Fn = max(3, int(round(cfg.seconds * cfg.fps)) + 1)
    t = np.arange(Fn) / cfg.fps
    quad = any(l.end == "front" for l in legs)
    table = QUADRUPED if quad else BIPED
    L = float(np.mean([_leg_length(kin, l) for l in legs]))  # rig units
    Lm = L * scale_to_m
    rw = kin.rest_world_np
    root0 = rw[kin.root][:3, 3]
    feet0 = foot_positions(kin, rw[None], legs)[0]
    g = float(kin.rig.mesh.vertices[:, 1].min())
    fwd, up = frame.forward, np.eye(3)[frame.up]
    root_t = np.zeros((Fn, 3))
    yaw = turn_rate * t
    foot_t = np.repeat(feet0[None], Fn, 0).copy()
    if motion in table:
        spec = table[motion]
        v = math.sqrt(spec.froude * 9.81 * Lm) / scale_to_m  # rig units / s
        T = spec.cycle_s * math.sqrt(max(Lm, 1e-3))  # dynamic similarity: T ∝ √L
        S = v * spec.duty * T  # body-relative excursion of a pinned stance foot (the stride is v·T)
        GEN_LOG["cycle_s"] = T
        # root path (with yaw for turning)
        dpos = np.zeros((Fn, 3))
        for i in range(1, Fn):
            c, s_ = math.cos(yaw[i - 1]), math.sin(yaw[i - 1])
            d = fwd * c + frame.left * s_
            dpos[i] = dpos[i - 1] + d * v / cfg.fps
        bob = 0.02 * H * np.cos(4 * math.pi * t / T) if spec.duty > 0.5 else 0.04 * H * np.cos(4 * math.pi * t / T)
        root_t = dpos + bob[:, None] * up - 0.02 * H * up  # ours: a slight crouch keeps the stance legs reachable
        for k, l in enumerate(legs):
            off = spec.offsets.get(l.label, 0.0)
            ph = (t / T - off) % 1.0
            st = ph < spec.duty
            # fore-aft offset of the foot relative to the hip in the body frame: +S/2 -> -S/2 in stance,
            # back to +S/2 in swing (cosine blend), lifted by a sine arc
            s_st = ph / spec.duty
            s_sw = (ph - spec.duty) / (1 - spec.duty)
            x = np.where(st, S / 2 - S * s_st, -S / 2 + S * (0.5 - 0.5 * np.cos(math.pi * s_sw)))
            lift = np.where(st, 0.0, spec.swing_height * L * np.sin(math.pi * np.clip(s_sw, 0, 1)))
            for i in range(Fn):
                c, s_ = math.cos(yaw[i]), math.sin(yaw[i])
                rel = feet0[k] - root0
                rf, rl = float(rel @ fwd), float(rel @ frame.left)
                # rotate the foot's rest offset (and its stride offset) by the heading
                f2 = (rf + x[i]) * (fwd * c + frame.left * s_) + rl * (frame.left * c - fwd * s_)
                foot_t[i, k] = root0 - (root0 @ up) * up + dpos[i] + f2 + (feet0[k] @ up + lift[i]) * up
    elif motion == "jump":
        T = 0.35 * math.sqrt(max(Lm, 1e-3)) / 0.5 ** 0.5  # ours: flight time
        ph = np.clip((t - 0.3 * t[-1]) / T, 0, 1)
        hgt = 4 * 0.25 * H * ph * (1 - ph)  # ours: apex 25% of H
        crouch = 0.06 * H * np.exp(-((t - 0.3 * t[-1] + 0.1) / 0.08) ** 2)
        root_t = (hgt - crouch)[:, None] * up + np.linspace(0, 0.3 * H, Fn)[:, None] * fwd * (ph > 0)[:, None]
        fwdshift = np.maximum.accumulate(ph > 0) * 0  # feet follow the root during the flight
        for k in range(len(legs)):
            foot_t[:, k] = feet0[k] + (root_t @ fwd)[:, None] * fwd + hgt[:, None] * up + fwdshift[:, None]
    else:  # idle: breathing and a slow head/weight shift (ours)
        root_t = (0.01 * H * np.sin(2 * math.pi * t / 3.0))[:, None] * up
    # ---- solve joint angles (torch FK + Adam)
    p = kin.rest_params(Fn)
    root = torch.zeros(Fn, 6, dtype=kin.dtype)
    root[:, :3] = torch.as_tensor(root_t, dtype=kin.dtype)
    root[:, 3:] = torch.as_tensor(yaw[:, None] * up[None], dtype=kin.dtype)
    ang = torch.zeros(Fn, kin.n_driven, 3, dtype=kin.dtype)
    if motion == "idle":
        gen = torch.Generator().manual_seed(cfg.seed)
        ph = torch.rand(kin.n_driven, 3, generator=gen, dtype=kin.dtype) * 2 * math.pi
        tt = torch.as_tensor(t, dtype=kin.dtype)[:, None, None]
        ang = 0.03 * torch.sin(2 * math.pi * tt / 3.0 + ph)
        leg_j = {j for l in legs for j in l.chain}
        for i, j in enumerate(kin.driven):
            if j in leg_j:
                ang[:, i] = 0
    leg_joints = sorted({j for l in legs for j in l.chain})
    idx = torch.as_tensor([kin.driven.index(j) for j in leg_joints if j in kin.driven], dtype=torch.long)
    free = torch.zeros(Fn, len(idx), 3, dtype=kin.dtype, requires_grad=True)
    tgt = torch.as_tensor(foot_t, dtype=kin.dtype)
    opt = torch.optim.Adam([free], lr=cfg.lr)
    for it in range(cfg.iterations):
        opt.zero_grad()
        a = ang.clone()
        a[:, idx] = a[:, idx] + free
        w = kin.fk(MotionParams(a, root))
        fp = foot_positions(kin, w, legs)
        loss = ((fp - tgt) ** 2).sum(-1).mean() / H ** 2 + cfg.w_posture * (free ** 2).mean() \
            + cfg.w_smooth * smoothness_loss(free) + cfg.w_ground * torch.relu(g - fp[..., frame.up]).mean() / H
        loss.backward()
        opt.step()
        GEN_LOG["foot_rmse_over_H"] = float(((fp.detach() - tgt) ** 2).sum(-1).mean().sqrt() / H)
        if progress and it % 10 == 0:
            progress(it / cfg.iterations, f"gait IK {it}/{cfg.iterations}")
    a = ang.clone()
    with torch.no_grad():
        a[:, idx] = a[:, idx] + free
    return MotionParams(a.detach(), root.detach())
