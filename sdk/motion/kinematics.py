"""AKD motion representation (§4.4): 3-DoF compound joints per bone + a 6-DoF root per frame, torch FK and LBS.

Parameters of a clip of F frames:

* ``angles [F, D, 3]``: intrinsic XYZ angles of every *driven* joint relative to its rest pose,
  ``R(θ) = Rx(θ0) Ry(θ1) Rz(θ2)`` in the joint frame (the same decomposition as a Newton D6 joint with angular
  axes X, Y, Z, checked in ``tests/motion/test_kinematics.py``). For an SDK rig ``D = J − 1``.
* ``root [F, 6]``: translation offset of the root joint from its rest world position and an axis-angle rotation
  applied on the left of its rest world rotation (about the root joint, not the world origin).

FK: ``world_root = [Rot(aa)·R_rest, p_rest + t]``, ``world_j = world_parent(j) · rest_local_j · R(θ_j)``.

The *root* is the first joint whose subtree holds every skinned joint and that has skin weight itself or more
than one child (``find_motion_root``); joints above it (``rootJoint`` / armature nodes) stay at rest. Joint
translations of an input animation below the root are not parameters (AKD's joints are purely rotational);
``tests/motion`` measures what that costs against the rig's own skinning.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..core import Animation, Rig, Skeleton

# IK helper bones found among the skin joints of the shared Quaternius rigs (spec §4): never physical, never legs
HELPER_BONE_PATTERN = re.compile(r"(pole\s*target|poletarget|^ik[A-Z_]|^IK|_ik$|target$)", re.IGNORECASE)


def is_helper_bone(name: str) -> bool:
    return bool(HELPER_BONE_PATTERN.search(name))


def find_motion_root(skeleton: Skeleton, dominant: np.ndarray) -> int:
    """The joint carrying the 6-DoF root. ``dominant [J]`` = number of vertices whose top weight is the joint."""
    J = skeleton.n_joints
    skinned = np.flatnonzero(dominant > 0)
    if not len(skinned):
        return 0
    # ancestor chains
    chain = []
    j = int(skinned[0])
    while j >= 0:
        chain.append(j)
        j = int(skeleton.parents[j])
    chain = chain[::-1]  # from the top root down to the first skinned joint
    anc_sets = []
    for s in skinned:
        a, k = set(), int(s)
        while k >= 0:
            a.add(k)
            k = int(skeleton.parents[k])
        anc_sets.append(a)
    common = [c for c in chain if all(c in a for a in anc_sets)]
    for c in common:  # topmost common ancestor that is "body-like"
        if dominant[c] > 0 or len(skeleton.children(c)) > 1:
            return int(c)
    return int(common[-1]) if common else 0


def dominant_counts(rig: Rig) -> np.ndarray:  # [J]
    top = rig.skin.indices[np.arange(rig.skin.n_vertices), rig.skin.weights.argmax(1)]
    return np.bincount(top, minlength=rig.skeleton.n_joints)


def reparent_detached(rig: Rig) -> tuple[Rig, list[str]]:
    """Attach skinned joints that hang off *another* root (IK controller trees: Quaternius ``IKFrontLeg_L → FF_L``)
    to the nearest joint of the main tree (bind-pose distance, earlier index), keeping every world transform.

    Returns (rig with the new skeleton and re-expressed animations, names of the moved joints). The rig is
    returned unchanged when nothing hangs off another root."""
    from ..core.transforms import world_to_local
    sk = rig.skeleton
    dom = dominant_counts(rig)
    root = find_motion_root(sk, dom)
    J = sk.n_joints
    in_main = np.zeros(J, bool)
    in_main[root] = True
    for j in range(root + 1, J):
        if sk.parents[j] >= 0 and in_main[sk.parents[j]]:
            in_main[j] = True
    parents = sk.parents.copy()
    main0 = in_main.copy()  # attach only to the original main tree, never to another moved joint
    moved = []
    pos = sk.bind_world[:, :3, 3]
    for j in range(J):
        if in_main[j] or dom[j] == 0 or (parents[j] >= 0 and in_main[parents[j]]):
            continue
        cand = [c for c in range(j) if main0[c] and not is_helper_bone(sk.names[c])]
        if not cand:
            continue
        d = np.linalg.norm(pos[cand] - pos[j], axis=1)
        parents[j] = cand[int(d.argmin())]
        in_main[j] = True
        moved.append(sk.names[j])
        for c in range(j + 1, J):  # its own subtree follows
            if parents[c] >= 0 and in_main[parents[c]]:
                in_main[c] = True
    if not moved:
        return rig, []
    rest_world = sk.rest_world()
    new_sk = Skeleton(list(sk.names), parents, world_to_local(parents, rest_world), sk.bind_world.copy())
    anims = [Animation.from_local_matrices(a.name, a.fps, world_to_local(parents, a.world_matrices(sk.parents)))
             for a in rig.animations]
    out = Rig(rig.mesh, new_sk, rig.skin, rig.parts, anims, rig.joint_parts, dict(rig.metadata))
    return out.validate(), moved


# ---------------------------------------------------------------------------------------------------------------
# rotations (torch, differentiable)

def euler_xyz_to_matrix(theta: Tensor) -> Tensor:
    """theta [..., 3] -> [..., 3, 3] = Rx(θ0) @ Ry(θ1) @ Rz(θ2) (intrinsic XYZ)."""
    a, b, c = theta.unbind(-1)
    ca, sa, cb, sb, cc, sc = a.cos(), a.sin(), b.cos(), b.sin(), c.cos(), c.sin()
    o, z = torch.ones_like(a), torch.zeros_like(a)
    rx = torch.stack([o, z, z, z, ca, -sa, z, sa, ca], -1).reshape(*a.shape, 3, 3)
    ry = torch.stack([cb, z, sb, z, o, z, -sb, z, cb], -1).reshape(*a.shape, 3, 3)
    rz = torch.stack([cc, -sc, z, sc, cc, z, z, z, o], -1).reshape(*a.shape, 3, 3)
    return rx @ ry @ rz


def axis_angle_to_matrix(aa: Tensor) -> Tensor:
    """aa [..., 3] -> [..., 3, 3] (Rodrigues, smooth at 0)."""
    th2 = (aa * aa).sum(-1, keepdim=True)
    th = torch.sqrt(th2 + 1e-20)
    k = aa / th
    kx, ky, kz = k.unbind(-1)
    z = torch.zeros_like(kx)
    K = torch.stack([z, -kz, ky, kz, z, -kx, -ky, kx, z], -1).reshape(*aa.shape[:-1], 3, 3)
    s, c = torch.sin(th)[..., None], torch.cos(th)[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand_as(K)
    small = (th2 < 1e-12)[..., None]
    # first-order series near zero keeps the gradient exact there
    Kaa = torch.stack([z, -aa[..., 2], aa[..., 1], aa[..., 2], z, -aa[..., 0], -aa[..., 1], aa[..., 0], z],
                      -1).reshape(K.shape)
    return torch.where(small, eye + Kaa, eye + s * K + (1 - c) * (K @ K))


def matrix_to_euler_xyz(m: np.ndarray) -> np.ndarray:
    """[..., 3, 3] -> intrinsic XYZ angles [..., 3] (numpy, for converting clips)."""
    from scipy.spatial.transform import Rotation
    flat = np.asarray(m, dtype=np.float64).reshape(-1, 3, 3)
    return Rotation.from_matrix(flat).as_euler("XYZ").reshape(*np.shape(m)[:-2], 3)


def matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation
    flat = np.asarray(m, dtype=np.float64).reshape(-1, 3, 3)
    return Rotation.from_matrix(flat).as_rotvec().reshape(*np.shape(m)[:-2], 3)


# ---------------------------------------------------------------------------------------------------------------

@dataclass
class MotionParams:
    """AKD's optimised variables Θ for F frames."""
    angles: Tensor  # [F, D, 3] intrinsic XYZ joint angles (radians) of the driven joints
    root: Tensor  # [F, 6] root translation offset (3) + axis-angle rotation (3)

    @property
    def n_frames(self) -> int:
        return int(self.angles.shape[0])

    def detach(self) -> "MotionParams":
        return MotionParams(self.angles.detach().clone(), self.root.detach().clone())


class KinematicRig:
    """Torch FK + LBS for an ``sdk.core.Rig`` in AKD's parameterisation. Built once per rig (validation here)."""

    def __init__(self, rig: Rig, *, dtype=torch.float32, device="cpu"):
        rig.validate()
        self.rig = rig
        sk = rig.skeleton
        self.J = sk.n_joints
        self.parents = sk.parents.copy()
        self.dominant = dominant_counts(rig)
        self.root = find_motion_root(sk, self.dominant)
        anc, k = [], int(self.parents[self.root])
        while k >= 0:
            anc.append(k)
            k = int(self.parents[k])
        self.above_root = sorted(anc)
        self.driven = [j for j in range(self.J) if j != self.root and j not in anc]  # [D] joints with 3 angles
        self.dtype, self.device = dtype, device
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype, device=device)
        self.rest_local = t(sk.rest_local)  # [J, 4, 4]
        self.rest_world_np = sk.rest_world()
        self.rest_world = t(self.rest_world_np)
        self.bind_inv = t(np.linalg.inv(sk.bind_world))
        self.vertices = t(rig.mesh.vertices)
        self.skin_idx = torch.as_tensor(rig.skin.indices, device=device)
        self.skin_w = t(rig.skin.weights)
        # helper = IK/pole-target name *and* no skin of its own (Quaternius IK roots that carry the feet are kept)
        self.helper = np.array([is_helper_bone(n) and self.dominant[j] == 0 for j, n in enumerate(sk.names)])

    @property
    def n_driven(self) -> int:
        return len(self.driven)

    def rest_params(self, n_frames: int) -> MotionParams:
        z = lambda *s: torch.zeros(*s, dtype=self.dtype, device=self.device)
        return MotionParams(z(n_frames, self.n_driven, 3), z(n_frames, 6))

    # ----------------------------------------------------------------------------------------------------------
    def fk(self, params: MotionParams) -> Tensor:
        """World joint transforms [F, J, 4, 4]."""
        F = params.n_frames
        dt = self.dtype
        rot = torch.zeros(F, self.J, 3, 3, dtype=dt, device=self.device)
        rot = rot + torch.eye(3, dtype=dt, device=self.device)
        if self.n_driven:
            rot[:, self.driven] = euler_xyz_to_matrix(params.angles)
        world: list[Tensor | None] = [None] * self.J
        for j in range(self.J):
            p = int(self.parents[j])
            if j == self.root:
                rw = self.rest_world[j]
                R = axis_angle_to_matrix(params.root[:, 3:]) @ rw[:3, :3]
                tr = rw[:3, 3] + params.root[:, :3]
                top = torch.cat([R, tr[:, :, None]], -1)
                bottom = torch.tensor([0, 0, 0, 1], dtype=dt, device=self.device).expand(F, 1, 4)
                world[j] = torch.cat([top, bottom], -2)
            elif j in self.above_root:
                world[j] = self.rest_world[j].expand(F, 4, 4)
            else:
                loc = self.rest_local[j].expand(F, 4, 4)
                R = loc[:, :3, :3] @ rot[:, j]
                loc = torch.cat([torch.cat([R, loc[:, :3, 3:]], -1), loc[:, 3:]], -2)
                world[j] = loc if p < 0 else world[p] @ loc
        return torch.stack(world, 1)

    def skinning(self, world: Tensor) -> Tensor:  # [F, J, 4, 4] -> [F, J, 4, 4]
        return world @ self.bind_inv

    def skin_mesh(self, world: Tensor) -> Tensor:
        """LBS of the rig's mesh (Eq. 5): [F, J, 4, 4] world -> vertices [F, V, 3]."""
        from ..rigging.lbs import linear_blend_skinning
        return linear_blend_skinning(self.vertices, self.skinning(world), self.skin_idx, self.skin_w)

    # ----------------------------------------------------------------------------------------------------------
    def params_from_animation(self, anim: Animation, *, unwrap: bool = True) -> MotionParams:
        """Θ reproducing a clip's joint rotations (and its root joint's world motion)."""
        anim.validate(self.J)
        world = anim.world_matrices(self.parents)  # [T, J, 4, 4]
        local = anim.local_matrices()
        T = anim.n_frames
        rest_rot = self.rig.skeleton.rest_local[:, :3, :3]
        # local = rest_local * R(θ) -> R(θ) = rest_rot^T local_rot (scales of the clip are dropped)
        lr = local[:, :, :3, :3] / np.maximum(np.linalg.norm(local[:, :, :3, :3], axis=-2, keepdims=True), 1e-12)
        rel = np.einsum("jba,tjbc->tjac", rest_rot / np.linalg.norm(rest_rot, axis=-2, keepdims=True), lr)
        ang = matrix_to_euler_xyz(rel[:, self.driven]) if self.n_driven else np.zeros((T, 0, 3))
        if unwrap and T > 1:
            ang = np.unwrap(ang, axis=0)
        rw = self.rest_world_np[self.root]
        Rw = world[:, self.root, :3, :3]
        Rw = Rw / np.linalg.norm(Rw, axis=-2, keepdims=True)
        Rn = rw[:3, :3] / np.linalg.norm(rw[:3, :3], axis=-2, keepdims=True)
        aa = matrix_to_axis_angle(Rw @ Rn.T)
        if unwrap and T > 1:  # keep the axis-angle continuous (flip to the equivalent 2π−θ branch when it jumps)
            for f in range(1, T):
                th = np.linalg.norm(aa[f])
                if th > 1e-9:
                    alt = aa[f] * (1 - 2 * np.pi / th)
                    if np.linalg.norm(alt - aa[f - 1]) < np.linalg.norm(aa[f] - aa[f - 1]):
                        aa[f] = alt
        tr = world[:, self.root, :3, 3] - rw[:3, 3]
        t = lambda a: torch.as_tensor(a, dtype=self.dtype, device=self.device)
        return MotionParams(t(ang), t(np.concatenate([tr, aa], 1)))

    def animation_from_params(self, params: MotionParams, name: str = "motion", fps: float = 30.0) -> Animation:
        """An ``Animation`` (joint-local TRS) equal to FK(Θ); helper bones follow their parents."""
        with torch.no_grad():
            world = self.fk(params).double().cpu().numpy()
        from ..core.transforms import world_to_local
        local = world_to_local(self.parents, world)
        # keep the rest scales of the skeleton (FK of an SDK rig has no scale; a glTF rig may)
        return Animation.from_local_matrices(name, fps, local)
