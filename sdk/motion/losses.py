"""AKD regularisers (§4.4): temporal smoothness (Eq. 9) and ground penetration of bone cuboids (Eq. 10)."""
from __future__ import annotations

import torch
from torch import Tensor


def smoothness_loss(x: Tensor) -> Tensor:
    """Eq. 9: mean absolute temporal Laplacian over the interior frames. x [F, ...] -> scalar.

    ``1/((F−2)·D) Σ_{i=1}^{F−2} ‖x_{i−1} − 2x_i + x_{i+1}‖₁`` (zero for F < 3 and for motion linear in time)."""
    if x.shape[0] < 3:
        return x.sum() * 0.0
    lap = x[:-2] - 2 * x[1:-1] + x[2:]
    return lap.abs().mean()


def ground_loss(corners: Tensor, ground: float, height: float, up: int = 1) -> Tensor:
    """Eq. 10: Σ_v max(0, h_ground − v_up) over cuboid vertices; ours: the mean, divided by the rig height.
    corners [..., 3] (any leading shape)."""
    return torch.relu(ground - corners[..., up]).mean() / height


def cuboid_corners(world: Tensor, centers: Tensor, half: Tensor) -> Tensor:
    """Bone cuboids posed by joint transforms: world [F, B, 4, 4], centers/half [B, 3] (bone frame) -> [F, B, 8, 3]."""
    s = torch.tensor([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=world.dtype,
                     device=world.device)
    loc = centers[:, None] + s[None] * half[:, None]  # [B, 8, 3]
    return torch.einsum("fbij,bkj->fbki", world[..., :3, :3], loc) + world[..., None, :3, 3]
