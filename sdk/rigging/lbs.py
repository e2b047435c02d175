"""Linear blend skinning in torch: batched and differentiable."""
from __future__ import annotations

import torch
from torch import Tensor


def linear_blend_skinning(
    vertices: Tensor,  # [V, 3] or [B, V, 3] rest (bind-pose) positions
    skinning: Tensor,  # [..., J, 4, 4] pose_world @ inv(bind_world)
    indices: Tensor,  # [V, k] joint ids
    weights: Tensor,  # [V, k] weights (rows sum to 1)
) -> Tensor:  # [..., V, 3]
    """v' = sum_i w_i (M_{j_i} [v, 1]). Differentiable in vertices, skinning and weights."""
    dtype = skinning.dtype
    v = vertices.to(dtype)
    w = weights.to(dtype)
    idx = indices.long()
    m = skinning[..., idx, :3, :]  # [..., V, k, 3, 4]
    blended = (w[..., None, None] * m).sum(-3)  # [..., V, 3, 4]
    return (blended[..., :3] @ v[..., None]).squeeze(-1) + blended[..., 3]


def _torch_impl_dense(vertices: Tensor, skinning: Tensor, dense_weights: Tensor) -> Tensor:
    """Reference: dense weights [V, J]; used by tests to check the sparse path."""
    vh = torch.cat([vertices, torch.ones_like(vertices[..., :1])], -1)  # [V, 4]
    per_joint = torch.einsum("...jab,vb->...jva", skinning, vh)[..., :3]  # [..., J, V, 3]
    return torch.einsum("vj,...jva->...va", dense_weights.to(skinning.dtype), per_joint)
