"""Linear blend skinning in torch: batched and differentiable (``sdk.core.Rig.pose`` is the numpy evaluation of
the same formula; the tests check both against the dense reference in ``_reference.py``)."""
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


from ._reference import _torch_impl_dense  # noqa: E402,F401 (old name)
