"""4D spherical harmonics (Track4DGen Eq. 8): every SH coefficient is a truncated cosine series over time,

    k_l^m(t) = sum_{i=0}^{w-1} f_i cos(i pi t / N_t),

with t / N_t the normalised time in [0, 1] here; i = 0 is the static SH. w = 1 is plain (static) SH.
l_max and w are not given by the paper (config fields; the spec suggests w = 4, l_max = 3).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def cosine_basis(t, w: int, device=None, dtype=torch.float32) -> Tensor:
    """t: scalar or [B] normalised time -> [B, w] with entries cos(i pi t)."""
    tt = torch.as_tensor(t, dtype=dtype, device=device).reshape(-1)
    i = torch.arange(w, dtype=dtype, device=tt.device)
    return torch.cos(math.pi * tt[:, None] * i[None])


def sh_at_time(coeffs: Tensor, t) -> Tensor:
    """coeffs: [N, K, 3, w] -> SH [B, N, K, 3] at the B times t (scalar -> B = 1)."""
    basis = cosine_basis(t, coeffs.shape[-1], device=coeffs.device, dtype=coeffs.dtype)  # [B, w]
    return torch.einsum("nkcw,bw->bnkc", coeffs, basis)
