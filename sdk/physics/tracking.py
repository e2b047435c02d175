"""Physics-based motion tracking (AKD §4.5, Eq. 11–13, App. D).

Optimise the PD targets θ̂ and the initial body velocities q̇₀ so that the simulated bones follow a kinematic clip:
``L = mean_i ‖p_i − p*_i‖²/H² + w_root·‖r_i − r*_i‖²/H² + w_rot·(1 − ⟨q_i, q*_i⟩²) + w_joint·(1 − ⟨q_p⁻¹q_c, q*_p⁻¹q*_c⟩²)
+ λ_smooth·L_smooth(θ̂)`` over the frames i (p root-relative body positions, r the root; weights ours).

Documented deviation: AKD optimises one target per *substep*; we optimise one per *frame* and interpolate it
linearly to every chunk (N/chunk values per frame), 1/N of the parameters (the spec's proposal).
Start state: frame 0, shifted vertically so the lowest cuboid corner touches the ground (as in the paper); q̇₀
starts at the finite difference of the first two reference frames.

Warm start (ours): up to ``ilc_passes`` iterative-learning-control passes θ̂ ← θ̂ + wrap(θ* − θ_sim), forward
only, each kept only while Eq. 13 falls; then Adam with a cosine-decayed rate. The loss is in maximal (world)
coordinates as Eq. 13; ``root_frame=True`` (an experiment) measures shape and rotations in the root's frame.
"""
from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InvalidInputError
from ..motion.kinematics import KinematicRig, MotionParams
from ..motion.losses import smoothness_loss
from .model import NewtonScene, PhysicsConfig, PhysicsSkeleton, _ortho, _quat_xyzw, build_physics_skeleton
from .sim import ChunkRunner, SimChunk, SimulationDiverged, check_finite

log = logging.getLogger(__name__)


@dataclass
class TrackingConfig:
    iterations: int = 20  # the paper runs 200 (App. D); ours is the CPU budget; configurable
    lr: float = 3e-3  # ours: Adam on θ̂ (radians); 1e-2 overshot the warm-started targets (joint error rose)
    lr_velocity: float = 0.1  # ours: Adam on q̇₀ (m/s, rad/s)
    lr_final: float = 0.1  # ours: cosine decay of both learning rates to this fraction at the last iteration
    # (1 = constant). Adam moves every target by ~lr per step whatever its gradient, so late steps at the full rate
    # only add joint noise (measured, Q-Deer Walk: joint error 0.60° at constant 3e-3, 0.40° at 1e-3, whose gallops
    # then improve half as much)
    lr_warmup: int = 0  # ours: iterations of linear learning-rate warm-up (rate × (i+1)/(W+1)); off: Adam's first steps
    # move every target by ±lr whatever its gradient and raised Eq. 13 on the walks (Q-Fox Walk 0.00215 → 0.0034 at
    # the first step), but W = 3 (measured, 12 iterations) took Q-Deer Gallop from 0.13× to 0.75× while Q-Shiba /
    # Q-Alpaca Walk went 0.42× / 0.58× → 0.3× / 0.36× and Q-Fox Walk 0.78× → 0.71×
    w_rot: float = 0.5  # ours: weight of the orientation term (1 − ⟨q, q*⟩²)
    w_root: float = 0.3  # ours: weight of the root position term (the shape term is root-relative)
    w_joint: float = 2.0  # ours: weight of the joint-relative rotation term (1 − ⟨q_p⁻¹q_c, q*_p⁻¹q*_c⟩²); without
    # it the optimiser traded joint angles for root position (joint error rose while root error fell). 1 − ⟨·⟩² ≈
    # θ²/4, so at 2.0 a 1° joint error costs about what a 1.2% H body-position error costs (0.5 before: 1° ≈ 0.6% H)
    lambda_smooth: float = 1e-2  # ours (blank in App. D)
    upright: bool = True
    ilc_passes: int = 2  # ours: iterative-learning-control passes warm-starting θ̂ before Adam (0 = off):
    # θ̂ ← θ̂ + γ·wrap(θ* − θ_sim), one forward rollout each, kept only when the Eq. 13 loss falls. A PD joint
    # settles at θ = θ̂ − τ_load/k_e; the pass adds back that measured sag (gravity, contact and inertial loads
    # together, which a static gravity-compensation feed-forward would miss for stance legs held from the foot)
    ilc_gain: float = 1.0  # ours: γ of the ILC update
    ilc_max_step: float = 0.3  # ours: |Δθ̂| cap per pass (rad): an Euler branch flip must not become a step
    root_frame: bool = False  # ours (experiment): body positions/orientations of the shape and rotation terms in
    # the root's frame instead of the world's (maximal coordinates, Eq. 13), so a root rotation error is not
    # compensated by bending the joints
    rebuild_scope: str = "auto"  # ours: rebuild an in-place root on the whole "clip" (speed smoothed over
    # ``root_speed_window`` frames, wrapping a loop) before cutting the window, on the "window" alone (raw, the
    # previous stop), or "auto": both, keeping the one whose open-loop Eq. 13 loss is lower (two extra forward
    # rollouts). Measured open loop: Q-Wolf Gallop 0.0042 (clip) vs 0.0052 (window), Q-Husky Walk 0.0014 vs 0.0011
    root_speed_window: int = 5  # ours: frames of the moving median smoothing a rebuilt in-place root's speed
    # (pipeline.rebuild_root_from_stance); 1 = the raw per-frame stance-foot speed


@dataclass
class TrackingResult:
    targets: np.ndarray  # [F, B−1, 3] optimised PD targets (per frame)
    qd0: np.ndarray  # [B, 6] optimised initial body velocities
    body_q: np.ndarray  # [F, B, 7] simulated body poses (xyzw), metres
    target_q: np.ndarray  # [F, B, 7] kinematic target poses
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)  # per-chunk input gradient norms (pre-clip)
    diverged: str | None = None  # message when the sim went non-finite (the last good result is kept)
    seconds: float = 0.0


def body_targets(kin: KinematicRig, phys: PhysicsSkeleton, params: MotionParams) -> np.ndarray:
    """Kinematic body poses [F, B, 7] (metres, xyzw, ground at y = 0) of FK(Θ)."""
    with torch.no_grad():
        world = kin.fk(params).double().cpu().numpy()  # [F, J, 4, 4]
    F = len(world)
    out = np.zeros((F, phys.n_bodies, 7))
    for bi, j in enumerate(phys.joints):
        p = (world[:, j, :3, 3] - [0, phys.ground, 0]) * phys.scale
        q = np.stack([_quat_xyzw(_ortho(world[f, j])) for f in range(F)])
        out[:, bi] = np.concatenate([p, q], 1)
    # consistent quaternion hemisphere over time
    for f in range(1, F):
        flip = (out[f, :, 3:] * out[f - 1, :, 3:]).sum(1) < 0
        out[f, flip, 3:] *= -1
    return out


def box_corners(phys: PhysicsSkeleton, body_q: np.ndarray) -> np.ndarray:
    """World cuboid corners [..., B, 8, 3] of poses [..., B, 7]."""
    from scipy.spatial.transform import Rotation
    s = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    loc = phys.box_center[:, None] + s[None] * phys.half_extents[:, None]  # [B, 8, 3]
    shp = body_q.shape[:-1]
    q = body_q.reshape(-1, 7)
    R = Rotation.from_quat(q[:, 3:]).as_matrix().reshape(*shp, 3, 3)
    return np.einsum("...ab,...kb->...ka", R, np.broadcast_to(loc, (*shp, 8, 3))) + body_q[..., None, :3]


def grounded(phys: PhysicsSkeleton, q: np.ndarray) -> np.ndarray:
    """Shift poses [F, B, 7] vertically so the lowest cuboid corner of the clip is at y = 0 (the paper shifts the
    first frame; a kinematic clip's lowest foot can be lower later, so we use the whole clip: ours)."""
    c = box_corners(phys, q)
    out = q.copy()
    out[..., 1] -= c[..., 1].min()
    return out


def _targets_per_body(kin, phys, params: MotionParams) -> torch.Tensor:  # [F, B−1, 3]
    return params.angles[:, torch.as_tensor(phys.driven_index[1:])].detach().clone()


def _finite_diff_velocity(q0: np.ndarray, q1: np.ndarray, dt: float) -> np.ndarray:
    from scipy.spatial.transform import Rotation
    v = (q1[:, :3] - q0[:, :3]) / dt
    r = Rotation.from_quat(q1[:, 3:]) * Rotation.from_quat(q0[:, 3:]).inv()
    w = r.as_rotvec() / dt
    return np.concatenate([v, w], 1)


def _quat_conj(q):  # xyzw
    return torch.cat([-q[..., :3], q[..., 3:]], -1)


def _quat_mul(a, b):  # xyzw Hamilton product
    av, aw, bv, bw = a[..., :3], a[..., 3:], b[..., :3], b[..., 3:]
    return torch.cat([aw * bv + bw * av + torch.cross(av, bv, dim=-1), aw * bw - (av * bv).sum(-1, keepdim=True)], -1)


def joint_angles_from_bodies(kin: KinematicRig, phys: PhysicsSkeleton, body_q: np.ndarray) -> torch.Tensor:
    """Body poses [F, B, 7] (xyzw) -> the D6 joint angles [F, B−1, 3] (intrinsic XYZ in the joint frame, unwrapped)."""
    from scipy.spatial.transform import Rotation
    from ..motion.kinematics import matrix_to_euler_xyz
    rest = kin.rest_world_np
    out = np.zeros((len(body_q), phys.n_bodies - 1, 3))
    for bi in range(1, phys.n_bodies):
        jp, jc = phys.joints[int(phys.parent_body[bi])], phys.joints[bi]
        rel0 = _ortho(rest[jp]).T @ _ortho(rest[jc])
        Rp = Rotation.from_quat(body_q[:, phys.parent_body[bi], 3:]).as_matrix()
        Rc = Rotation.from_quat(body_q[:, bi, 3:]).as_matrix()
        rel = np.einsum("ab,fbc->fac", rel0.T, np.einsum("fba,fbc->fac", Rp, Rc))
        out[:, bi - 1] = np.unwrap(matrix_to_euler_xyz(rel), axis=0)
    return torch.as_tensor(out)


class Tracker:
    """Builds the Newton scene once; ``rollout`` simulates given targets; ``track`` optimises them."""

    def __init__(self, kin: KinematicRig, cfg: PhysicsConfig | None = None):
        self.cfg = (cfg or PhysicsConfig()).validate()
        self.kin = kin
        self.phys = build_physics_skeleton(kin, self.cfg)
        if self.phys.n_bodies < 2:
            raise InvalidInputError("the rig has fewer than two physical bones; nothing to simulate", field="rig")
        self.scene = NewtonScene(kin, self.phys, self.cfg)
        self.tidx = torch.as_tensor(self.scene.target_index().reshape(-1))

    def _runner(self, target_q0: np.ndarray, upright: bool) -> ChunkRunner:
        from scipy.spatial.transform import Rotation
        R0 = Rotation.from_quat(target_q0[0, 3:])
        up0 = np.array([0.0, 1.0, 0.0])
        local_up = R0.inv().apply(up0)  # the root's up direction at frame 0, in its body frame
        return ChunkRunner(self.scene, local_up, up0, upright=upright)

    def up_reference(self, ref_np: np.ndarray, runner: ChunkRunner) -> np.ndarray:
        """[F, 3] world up of the kinematic root per frame (the root's frame-0 up carried by its rotation)."""
        from scipy.spatial.transform import Rotation
        local = np.array([runner.up_local[0], runner.up_local[1], runner.up_local[2]], dtype=float)
        return Rotation.from_quat(ref_np[:, 0, 3:]).apply(np.tile(local, (len(ref_np), 1)))

    def rollout(self, targets: torch.Tensor, q0: torch.Tensor, qd0: torch.Tensor, fps: float,
                runner: ChunkRunner, up_ref: np.ndarray | None = None) -> torch.Tensor:
        """targets [F, B−1, 3] -> simulated poses [F, B, 7] (frame 0 = q0); differentiable through SimChunk.
        ``up_ref`` [F, 3]: the kinematic root's world up per frame, the upright torque's target (None: frame 0's)."""
        F = targets.shape[0]
        N = max(1, int(round(1.0 / (fps * self.cfg.dt))))  # substeps per frame
        K = self.cfg.chunk
        q, qd = q0, qd0
        out = [q0]
        for f in range(F - 1):
            done = 0
            while done < N:
                n = min(K, N - done)
                a = (done + 0.5 * n) / N  # chunk midpoint: linear interpolation of the per-frame targets
                tgt = (1 - a) * targets[f] + a * targets[f + 1]
                vec = torch.zeros(self.scene.n_target, dtype=targets.dtype).index_put((self.tidx,), tgt.reshape(-1))
                up = None
                if up_ref is not None:
                    up = (1 - a) * up_ref[f] + a * up_ref[f + 1]
                    up = tuple(up / np.linalg.norm(up))
                q, qd = SimChunk.apply(runner, n, q, qd, vec, up)
                check_finite(q.detach(), qd.detach(), self.phys.names, f + 1, done + n)
                done += n
            out.append(q)
        return torch.stack(out)

    def loss(self, sim: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        """Eq. 13 [reconstructed]: root-relative body positions + root position + orientations (weights ours)."""
        H = self.cfg.height_m
        tc = self.cfg_track
        rel_s = sim[1:, :, :3] - sim[1:, :1, :3]
        rel_r = ref[1:, :, :3] - ref[1:, :1, :3]
        qs, qr = sim[1:, :, 3:], ref[1:, :, 3:]
        if tc.root_frame:  # body poses in the root's frame; the root's own pose keeps its world terms
            rot_v = lambda q, v: _quat_mul(_quat_mul(q, torch.cat([v, torch.zeros_like(v[..., :1])], -1)), _quat_conj(q))[..., :3]
            rel_s = rot_v(_quat_conj(qs[:, :1]).expand_as(qs), rel_s)
            rel_r = rot_v(_quat_conj(qr[:, :1]).expand_as(qr), rel_r)
            qs = torch.cat([qs[:, :1], _quat_mul(_quat_conj(qs[:, :1]).expand_as(qs[:, 1:]), qs[:, 1:])], 1)
            qr = torch.cat([qr[:, :1], _quat_mul(_quat_conj(qr[:, :1]).expand_as(qr[:, 1:]), qr[:, 1:])], 1)
        shape = ((rel_s - rel_r) ** 2).sum(-1).mean() / H ** 2
        root = ((sim[1:, 0, :3] - ref[1:, 0, :3]) ** 2).sum(-1).mean() / H ** 2
        dot = (qs * qr).sum(-1)
        rot = (1 - dot ** 2).mean()
        L = shape + tc.w_root * root + tc.w_rot * rot
        if tc.w_joint > 0:
            par = torch.as_tensor(self.phys.parent_body[1:])
            rs = _quat_mul(_quat_conj(sim[1:, par, 3:]), sim[1:, 1:, 3:])
            rr = _quat_mul(_quat_conj(ref[1:, par, 3:]), ref[1:, 1:, 3:])
            L = L + tc.w_joint * (1 - (rs * rr).sum(-1) ** 2).mean()
        return L

    def prepare(self, params: MotionParams):
        ref = grounded(self.phys, body_targets(self.kin, self.phys, params))
        return ref

    def track(self, params: MotionParams, fps: float, tcfg: TrackingConfig | None = None,
              progress=None) -> tuple[TrackingResult, TrackingResult]:
        """Returns (open-loop result with θ̂ = clip angles, optimised result)."""
        self.cfg_track = tcfg = tcfg or TrackingConfig()
        t0 = time.perf_counter()
        ref_np = self.prepare(params)
        ref = torch.as_tensor(ref_np, dtype=torch.float64)
        F = len(ref_np)
        if F < 2:
            raise InvalidInputError("a clip needs at least two frames to track", field="clip")
        runner = self._runner(ref_np[0], tcfg.upright)
        q0 = torch.as_tensor(ref_np[0], dtype=torch.float64)
        qd0_init = _finite_diff_velocity(ref_np[0], ref_np[1], 1.0 / fps)
        theta = _targets_per_body(self.kin, self.phys, params).double()
        qd0 = torch.as_tensor(qd0_init, dtype=torch.float64)
        up_ref = self.up_reference(ref_np, runner) if self.cfg.upright_follow_reference else None
        roll = lambda th_, v_: self.rollout(th_, q0, v_, fps, runner, up_ref)

        def result(th, v, sim, losses, div=None):
            return TrackingResult(th.detach().numpy().copy(), v.detach().numpy().copy(),
                                  sim.detach().numpy().copy(), ref_np, list(losses), list(runner.grad_norms), div,
                                  time.perf_counter() - t0)

        # open loop: the clip's own angles as PD targets
        with torch.no_grad():
            try:
                sim0 = roll(theta, qd0)
                open_loop = result(theta, qd0, sim0, [float(self.loss(sim0, ref))])
            except SimulationDiverged as e:
                raise InvalidInputError(f"open-loop simulation failed: {e}", field="physics") from None
        best = open_loop
        best_loss = open_loop.losses[0]
        losses = [best_loss]
        theta_kin = theta.clone()
        sim_prev = sim0
        for _ in range(tcfg.ilc_passes):  # warm start: add back each joint's measured PD sag
            err = theta_kin - joint_angles_from_bodies(self.kin, self.phys, sim_prev.detach().numpy())
            err = torch.atan2(torch.sin(err), torch.cos(err)).clamp(-tcfg.ilc_max_step, tcfg.ilc_max_step)
            err[0] = err[1]  # frame 0 is the given start state; its target acts on the way to frame 1
            cand = theta + tcfg.ilc_gain * err
            try:
                with torch.no_grad():
                    sim_c = roll(cand, qd0)
            except SimulationDiverged:
                break
            lc = float(self.loss(sim_c, ref))
            if not lc < best_loss:
                break
            theta, sim_prev, best_loss = cand, sim_c, lc
            losses.append(lc)
            best = result(theta, qd0, sim_c, losses)
        th = theta.clone().requires_grad_(True)
        v = qd0.clone().requires_grad_(True)
        opt = torch.optim.Adam([{"params": [th], "lr": tcfg.lr}, {"params": [v], "lr": tcfg.lr_velocity}])
        n_it = max(1, tcfg.iterations - 1)
        W = tcfg.lr_warmup
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda i: ((i + 1) / (W + 1) if i < W else 1.0)
            * (tcfg.lr_final + (1 - tcfg.lr_final) * 0.5 * (1 + np.cos(np.pi * min(i, n_it) / n_it))))
        for it in range(tcfg.iterations):
            opt.zero_grad()
            try:
                sim = roll(th, v)
            except SimulationDiverged as e:  # stop, keep the last good result
                best.diverged = str(e)
                warnings.warn(f"physics tracking stopped at iteration {it}: {e}; keeping the last good result")
                break
            L_track = self.loss(sim, ref)
            L = L_track + tcfg.lambda_smooth * smoothness_loss(th)
            losses.append(float(L_track.detach()))
            if float(L_track.detach()) < best_loss:
                best_loss = float(L_track.detach())
                best = result(th, v, sim, losses)
            L.backward()
            opt.step()
            sched.step()
            if progress:
                progress((it + 1) / tcfg.iterations, f"iteration {it + 1}/{tcfg.iterations} loss {float(L_track.detach()):.4g}")
        # final evaluation of the last parameters
        if best.diverged is None:
            with torch.no_grad():
                try:
                    sim = roll(th, v)
                    lf = float(self.loss(sim, ref))
                    losses.append(lf)
                    if lf < best_loss:
                        best = result(th, v, sim, losses)
                except SimulationDiverged as e:
                    best.diverged = str(e)
        best.losses = losses
        best.grad_norms = list(runner.grad_norms)
        best.seconds = time.perf_counter() - t0
        return open_loop, best
