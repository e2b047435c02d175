"""Physics skeleton of a rig (AKD §4.5): bones as rigid cuboids, 3-axis compound (D6) joints with PD drives, a free
root, a ground plane; built as a Newton model (warp.sim's successor; warp.sim was removed in warp-lang 1.10).

Units: the rig is scaled so its height is ``PhysicsConfig.height_m`` (ours), Y up (the glTF convention of the
shared rigs), ground at the rig's lowest rest-pose point. Every default that is not the paper's says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidInputError, MissingDependencyError
from ..motion.kinematics import KinematicRig


@dataclass
class PhysicsConfig:
    """Simulation settings. The paper gives none of these values (App. D is blank in our copy); all are ours,
    chosen from the stability measurements in ``shared/specs/akd_atop.md`` §4."""
    dt: float = 1.0 / 6000.0  # ours: 1/6000 s stable on cm-scale bones, 1/3000 s diverged
    height_m: float = 1.0  # ours: nominal rig height in metres for the simulation
    ke: float = 5000.0  # ours: global PD stiffness k_e (Eq. 12) [N·m/rad]; 1000 let a heavy root sag ~8° on its spine
    kd: float = 1.0  # ours: global PD damping k_d; bounded by k_d·dt/I_min < 2 (I_min from the inertia floor)
    min_half_extent: float = 0.04  # ours: inertia floor: every cuboid half-extent ≥ this (× height_m)
    inertia_floor: float = 2e-3  # ours: every principal inertia ≥ this [kg·m²] (mass unchanged; ears, toes):
    # explicit-Euler PD wants ω·dt = √(k_e/I)·dt ≲ 0.5 (I ≥ 6e-4 at k_e = 5000 for one body); the Fox's chains with
    # joint attach ke 1e6 still diverged at 6e-4 and are stable at 2e-3 (measured)
    density: float = 300.0  # ours: boxes overestimate a body's volume (overlaps, corners); ~1/3 of water
    contact_ke: float = 1e6  # ours: ground contact stiffness; 5e4 let a 116 kg wolf's feet sink 2% H, 2e5 let the
    # 117 kg procedural critter's one-bone legs sink 1.28% H open loop (5e5: 0.77%, 1e6: 0.39%, measured); the
    # lightest foot (0.15 kg) keeps √(k/m)·Δt ≈ 0.43, inside symplectic Euler's stable range
    contact_kd: float = 500.0  # ours
    contact_kf: float = 1e3  # ours: friction stiffness
    contact_mu: float = 0.9  # ours: friction coefficient
    contact_gap: float = 0.03  # ours: contact detection gap (× height_m) so one collide per chunk suffices
    joint_attach_ke: float = 1e6  # ours: penalty holding the joints together (SemiImplicit). 2e4 let each joint of a
    # 116 kg Quaternius wolf stretch 1–3 cm under its weight: the root sank 19 cm in 8 frames (flagged as a fall)
    joint_attach_kd: float = 10.0  # ours: Newton's default 100 diverged on light bones (spec §4)
    angular_damping: float = 0.05  # Newton SemiImplicit default
    upright_ke: float = 2.0  # ours: App. D's virtual upright torque on the root, τ = k(u×u0) − d ω, in units of the
    # character's M·g·H per rad (a fixed 200 N·m/rad let a 116 kg wolf's root pitch 8° in 8 frames)
    upright_kd: float = 0.2  # ours: in M·g·H·s per rad (≈ critical for a body of inertia ~M·L²/12)
    upright_follow_reference: bool = True  # ours (deviation): pull towards the kinematic root's up at each substep
    # instead of frame 0's (App. D), so a clip whose body pitches (gallop) is not fought by the penalty
    chunk: int = 40  # ours: substeps per autograd chunk (gradients through contact explode beyond ~40)
    clip_norm: float = 1.0  # ours: per-chunk input-gradient clip norm
    device: str = "cpu"

    def validate(self) -> "PhysicsConfig":
        for k in ("dt", "height_m", "ke", "min_half_extent", "density", "chunk", "clip_norm"):
            if not getattr(self, k) > 0:
                raise InvalidInputError(f"physics {k} must be positive, got {getattr(self, k)}", field=k)
        return self


def _newton():
    try:
        import warp as wp
        import newton
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("newton", "physics tracking", 'pip install "articulate-sdk[physics]"') from e
    wp.config.quiet = True  # warp < 1.10
    if hasattr(wp.config, "log_level") and hasattr(wp, "LOG_WARNING"):  # warp >= 1.10: no "Module ... load" lines
        wp.config.log_level = max(int(wp.config.log_level), int(wp.LOG_WARNING))
    return wp, newton


def _ortho(m: np.ndarray) -> np.ndarray:
    """Rotation part of [4, 4] with scale removed (columns normalised, then SVD-projected)."""
    u, _, vt = np.linalg.svd(m[:3, :3])
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    return r


def _quat_xyzw(r: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation
    return Rotation.from_matrix(r).as_quat()


@dataclass
class PhysicsSkeleton:
    """Bodies of the physics model and their link to the rig's joints (numpy; no Newton objects)."""
    joints: list[int]  # [B] rig joint of each body (body 0 = the motion root)
    parent_body: np.ndarray  # [B] parent body (-1 for the root)
    half_extents: np.ndarray  # [B, 3] cuboid half-extents in the body frame (metres)
    box_center: np.ndarray  # [B, 3] cuboid centre in the body frame (metres)
    scale: float  # rig units -> metres
    ground: float  # ground height in rig units (Y)
    names: list[str]
    driven_index: np.ndarray  # [B] index of the body's joint in KinematicRig.driven (-1 for the root)
    dropped: list[str] = field(default_factory=list)  # helper / massless bones without a body

    @property
    def n_bodies(self) -> int:
        return len(self.joints)


def build_physics_skeleton(kin: KinematicRig, cfg: PhysicsConfig) -> PhysicsSkeleton:
    """Choose the bodies (prune helper bones such as ``PoleTarget*`` and bones with nothing below them) and fit a
    cuboid per bone: the box of the vertices whose dominant weight is that bone, in the bone frame (ours)."""
    rig = kin.rig
    sk = rig.skeleton
    J = kin.J
    verts = rig.mesh.vertices
    height = float(verts[:, 1].max() - verts[:, 1].min())
    if not height > 0:
        raise InvalidInputError("the rig's mesh has zero height", field="mesh")
    scale = cfg.height_m / height
    ground = float(verts[:, 1].min())
    top = rig.skin.indices[np.arange(len(verts)), rig.skin.weights.argmax(1)]
    below_root = set([kin.root] + kin.driven)
    # keep: not a helper, in the root's subtree, and skinned or with a kept descendant
    keep = np.zeros(J, bool)
    for j in range(J - 1, -1, -1):
        if j not in below_root or kin.helper[j]:
            continue
        if kin.dominant[j] > 0 or any(keep[c] for c in sk.children(j)):
            keep[j] = True
    keep[kin.root] = True
    # a kept joint's ancestors up to the root must be kept too (a body chain without gaps)
    for j in range(J):
        if keep[j]:
            p = int(sk.parents[j])
            while p >= 0 and p != kin.root and not keep[p] and p in below_root:
                keep[p] = True
                p = int(sk.parents[p])
    joints = [kin.root] + [j for j in range(J) if keep[j] and j != kin.root]
    body_of = {j: b for b, j in enumerate(joints)}
    parent_body = np.array([-1] + [body_of[int(sk.parents[j])] for j in joints[1:]])
    bind = sk.bind_world
    he, ctr = np.zeros((len(joints), 3)), np.zeros((len(joints), 3))
    floor = cfg.min_half_extent * cfg.height_m
    for b, j in enumerate(joints):
        pts = verts[top == j]
        inv = np.linalg.inv(bind[j])
        if len(pts) >= 4:
            loc = (inv[:3, :3] @ pts.T).T + inv[:3, 3]
            # scale of the bind matrix is part of the frame: measure the box in metres along the bone axes
            loc = loc * np.linalg.norm(bind[j][:3, :3], axis=0)
            lo, hi = np.percentile(loc, 2, axis=0), np.percentile(loc, 98, axis=0)
        else:  # no skin: a small box from the joint towards its child (ours); a *branching* unskinned joint (the
            # Quaternius roots 'Body', children spread over the whole animal) gets the floor cube at the joint: the
            # box spanning all its children was a phantom 1.6 m × 0.56 m slab holding 38–46% of the character's
            # mass (Q-Wolf 44 of 116 kg) that no mesh vertex moves with, and whose corner hit the ground first in the
            # gallops (measured: the lowest body of Q-Wolf Gallop's frame 0 was this slab, every foot 3% H up)
            kids = [c for c in sk.children(j) if keep[c]]
            ends = [(inv @ np.r_[bind[c][:3, 3], 1])[:3] * np.linalg.norm(bind[j][:3, :3], axis=0) for c in kids]
            e = np.array(ends) if len(kids) == 1 else np.zeros((1, 3))
            lo, hi = np.minimum(e.min(0), 0), np.maximum(e.max(0), 0)
        he[b] = np.maximum((hi - lo) / 2 * scale, floor)
        ctr[b] = (hi + lo) / 2 * scale
    dropped = [sk.names[j] for j in range(J) if not keep[j] and j in below_root]
    driven_pos = {j: i for i, j in enumerate(kin.driven)}
    didx = np.array([-1] + [driven_pos[j] for j in joints[1:]])
    return PhysicsSkeleton(joints, parent_body, he, ctr, scale, ground, [sk.names[j] for j in joints], didx, dropped)


class NewtonScene:
    """The Newton model of a PhysicsSkeleton (built once; finalised with ``requires_grad``).

    ``worlds`` > 1 replicates the character into that many independent Newton worlds (one model, bodies of world w at
    rows w·B … w·B+B−1, joint targets contiguous per world) sharing one ground plane: windows or clips simulated side
    by side in one launch per kernel (the GPU's batch axis). The tracker uses world 0; ``bench_physics`` the batch."""

    def __init__(self, kin: KinematicRig, phys: PhysicsSkeleton, cfg: PhysicsConfig, *, requires_grad: bool = True,
                 worlds: int = 1):
        wp, newton = _newton()
        self.wp, self.newton, self.cfg, self.phys, self.kin = wp, newton, cfg, phys, kin
        self.worlds = int(worlds)
        newton.use_coord_layout_targets = True
        b = newton.ModelBuilder(up_axis=newton.Axis.Y, gravity=(0.0, -9.81, 0.0))
        H = cfg.height_m
        scfg = newton.ModelBuilder.ShapeConfig(density=cfg.density, ke=cfg.contact_ke, kd=cfg.contact_kd,
                                               kf=cfg.contact_kf, mu=cfg.contact_mu, gap=cfg.contact_gap * H)
        rest = kin.rest_world_np
        self.rest_body = np.zeros((phys.n_bodies, 7))  # body frames at rest, metres, relative to the ground
        shapes = []
        for bi, j in enumerate(phys.joints):
            p = (rest[j][:3, 3] - [0, phys.ground, 0]) * phys.scale
            q = _quat_xyzw(_ortho(rest[j]))
            self.rest_body[bi] = np.r_[p, q]
            body = b.add_link(xform=wp.transform(wp.vec3(*p), wp.quat(*q)), label=phys.names[bi])
            c = phys.box_center[bi]
            hx, hy, hz = phys.half_extents[bi]
            shapes.append(b.add_shape_box(body, xform=wp.transform(wp.vec3(*c), wp.quat_identity()),
                                          hx=float(hx), hy=float(hy), hz=float(hz), cfg=scfg))
        D = newton.ModelBuilder.JointDofConfig
        jids = [b.add_joint_free(0)]
        for bi in range(1, phys.n_bodies):
            pb = int(phys.parent_body[bi])
            jp, jc = phys.joints[pb], phys.joints[bi]
            Rp, Rc = _ortho(rest[jp]), _ortho(rest[jc])
            rel_t = Rp.T @ ((rest[jc][:3, 3] - rest[jp][:3, 3]) * phys.scale)
            rel_q = _quat_xyzw(Rp.T @ Rc)
            axes = [D(axis=a, target_ke=cfg.ke, target_kd=cfg.kd, limit_ke=0.0, limit_kd=0.0)
                    for a in (newton.Axis.X, newton.Axis.Y, newton.Axis.Z)]
            jids.append(b.add_joint_d6(pb, bi, angular_axes=axes,
                                       parent_xform=wp.transform(wp.vec3(*rel_t), wp.quat(*rel_q)),
                                       child_xform=wp.transform_identity(), collision_filter_parent=True))
        b.add_articulation(jids)
        if cfg.inertia_floor > 0:  # raise tiny principal inertias (mass unchanged): global PD gains stay stable
            for i in range(phys.n_bodies):
                I = np.array(b.body_inertia[i], dtype=float).reshape(3, 3)
                w, V = np.linalg.eigh(I)
                b.body_inertia[i] = wp.mat33(*(V @ np.diag(np.maximum(w, cfg.inertia_floor)) @ V.T).ravel())
        for i in range(len(shapes)):  # bone-bone collisions off (only the ground collides), as in the spec's setup
            for k in range(i + 1, len(shapes)):
                b.add_shape_collision_filter_pair(shapes[i], shapes[k])
        if self.worlds > 1:
            art, b = b, newton.ModelBuilder(up_axis=newton.Axis.Y, gravity=(0.0, -9.81, 0.0))
            b.replicate(art, self.worlds)
        b.add_ground_plane(cfg=scfg)
        self.model = b.finalize(device=cfg.device, requires_grad=requires_grad)
        self.solver = newton.solvers.SolverSemiImplicit(self.model, angular_damping=cfg.angular_damping,
                                                        joint_attach_ke=cfg.joint_attach_ke,
                                                        joint_attach_kd=cfg.joint_attach_kd)
        self.pipeline = newton.CollisionPipeline(self.model, broad_phase="explicit", requires_grad=requires_grad)
        self.contacts = self.pipeline.contacts()
        self.target_start = self.model.joint_target_q_start.numpy()  # coord layout (world 0 first)
        self.n_target = int(self.model.joint_target_q.shape[0]) // self.worlds  # per world
        self.masses = self.model.body_mass.numpy()[: phys.n_bodies]  # world 0

    def target_vector(self, angles_bodies: np.ndarray) -> np.ndarray:
        """Per-body joint angles [B, 3] (row 0 unused) -> the model's joint_target_q layout [n_target]."""
        out = np.zeros(self.n_target, dtype=np.float32)
        for bi in range(1, self.phys.n_bodies):
            s = int(self.target_start[bi])
            out[s:s + 3] = angles_bodies[bi]
        return out

    def target_index(self) -> np.ndarray:
        """[B−1, 3] positions in joint_target_q of each driven body's three angles."""
        return np.array([[int(self.target_start[bi]) + k for k in range(3)] for bi in range(1, self.phys.n_bodies)])
