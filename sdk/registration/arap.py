"""As-rigid-as-possible energy (Sorkine & Alexa 2007) on a mesh graph, rotation-invariant by construction.

E(x) = sum_i sum_{j in N(i)} w_ij || (x_i - x_j) - R_i (p_i - p_j) ||^2,  with the best rotation per vertex
R_i = argmin = V_i U_i^T from the SVD S_i = sum_j w_ij (p_i - p_j)(x_i - x_j)^T = U_i Sigma_i V_i^T (reflection fixed
by flipping the last column of V_i). The rotations are computed without gradient: at the minimising R the envelope
theorem makes dE/dx the gradient with R held fixed. (V2M4's ``R = U V^T`` is the transpose of this optimum and
penalises rigid rotations; see tests/meshcache/test_registration.py.)
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class ARAP:
    """ARAP energy against a rest shape ``rest [V, 3]`` over undirected ``edges [E, 2]`` (uniform weights)."""

    def __init__(self, rest: Tensor, edges: np.ndarray):
        e = torch.as_tensor(edges, dtype=torch.int64, device=rest.device)
        self.i = torch.cat([e[:, 0], e[:, 1]])  # both directions: each vertex's one-ring
        self.j = torch.cat([e[:, 1], e[:, 0]])
        self.rest = rest.detach()
        self.d_rest = self.rest[self.i] - self.rest[self.j]  # [2E, 3]
        self.n = rest.shape[0]

    def rotations(self, x: Tensor) -> Tensor:  # x [V, 3] -> R [V, 3, 3]
        with torch.no_grad():
            d = x[self.i] - x[self.j]
            S = torch.zeros(self.n, 3, 3, dtype=x.dtype, device=x.device)
            S.index_add_(0, self.i, self.d_rest[:, :, None] * d[:, None, :])  # sum p q^T
            U, _, Vh = torch.linalg.svd(S)
            V = Vh.transpose(-1, -2)
            # reflection fix without a host sync: flip V's last column where det(V U^T) < 0
            sign = torch.where(torch.det(V @ U.transpose(-1, -2)) < 0, -1.0, 1.0).to(V.dtype)
            V = torch.cat([V[..., :2], V[..., 2:] * sign[:, None, None]], -1)
            R = V @ U.transpose(-1, -2)
        return R

    def rotated_rest(self, R: Tensor) -> Tensor:  # R [V, 3, 3] -> R_i (p_i - p_j) [2E, 3]
        with torch.no_grad():
            return (R[self.i] @ self.d_rest[:, :, None])[..., 0]

    def energy(self, x: Tensor, R: Tensor | None = None, rotated: Tensor | None = None) -> Tensor:
        """Sum of squared residuals (scalar). Pass ``R`` (or ``rotated = rotated_rest(R)``) to reuse rotations
        computed earlier; by default they are the optimum for ``x``."""
        if rotated is None:
            rotated = self.rotated_rest(self.rotations(x) if R is None else R)
        r = x[self.i] - x[self.j] - rotated
        return (r * r).sum()
