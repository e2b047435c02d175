"""Nicolet et al. 2021, "Large Steps in Inverse Rendering of Geometry": optimise ``u = (I + lambda L) x`` instead
of the vertex positions ``x`` (``L`` the mesh graph Laplacian), so a gradient step in ``u`` is a smooth
(Sobolev-preconditioned) step in ``x``; with the uniform Adam variant (one second-moment scale for all parameters).

Written from the paper's equations (Sec. 4-5), not from the ``largesteps`` package. The linear solve
``x = (I + lambda L)^-1 u`` is differentiable (the matrix is symmetric, so the backward pass is the same solve):

* CPU: one sparse LU factorisation (``scipy.sparse.linalg.splu``, float32, symmetric minimum-degree ordering) reused
  for every solve;
* CUDA (``method="dense"``): for up to ``dense_max`` vertices (40k: 6.4 GB in float32) the explicit inverse ``M^-1``
  from one dense Cholesky factorisation (``torch.cholesky_inverse``), so every solve is one dense mat-mat product on
  the device (no triangular solves, no host round trip); larger meshes
  (``method="cg"``) use Jacobi-preconditioned conjugate gradients in torch (sparse mat-vec), warm-started from the last
  solution, with the convergence test (a host sync) only every ``cg_check`` iterations.

``method="auto"`` picks ``"lu"`` on the CPU and ``"dense"`` / ``"cg"`` on other devices; every method runs on the CPU
too (tests/meshcache/test_registration.py checks they agree).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .kernels import graph_laplacian


class SmoothParam:
    """``M = I + lambda L`` for a mesh graph, with ``to_u(x) = M x`` and the differentiable ``to_x(u) = M^-1 u``."""

    def __init__(self, n: int, edges: np.ndarray, lam: float, device: torch.device, dtype=torch.float32,
                 cg_iters: int = 200, cg_tol: float = 1e-6, dense_max: int = 40_000, method: str = "auto",
                 cg_check: int = 20):
        import scipy.sparse as sp
        self.n, self.lam, self.device, self.dtype = n, float(lam), torch.device(device), dtype
        L = graph_laplacian(n, edges)
        self.M = (sp.identity(n, format="csr") + self.lam * L).tocsc()
        coo = self.M.tocoo()
        self.M_t = torch.sparse_coo_tensor(np.stack([coo.row, coo.col]), coo.data, (n, n), dtype=dtype,
                                           device=self.device, check_invariants=False).coalesce()
        self._lu = self._inv = None
        self.diag = None
        if method == "auto":
            method = "lu" if self.device.type == "cpu" else ("dense" if n <= dense_max else "cg")
        if method not in ("lu", "dense", "cg"):
            raise ValueError(f"method must be 'auto', 'lu', 'dense' or 'cg', got {method!r}")
        self.method = method
        if method == "lu":
            from scipy.sparse.linalg import splu
            self._lu = splu(self.M.astype(np.float32), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
        elif method == "dense":
            chol = torch.linalg.cholesky(self.M_t.to_dense())
            self._inv = torch.cholesky_inverse(chol)  # M^-1 (symmetric positive definite)
            del chol
        else:
            self.diag = torch.as_tensor(self.M.diagonal(), dtype=dtype, device=self.device)
        self.cg_iters, self.cg_tol, self.cg_check = cg_iters, cg_tol, max(1, cg_check)
        self._warm: Tensor | None = None

    def to_u(self, x: Tensor) -> Tensor:  # x [V, 3] -> u [V, 3]
        return torch.sparse.mm(self.M_t, x.to(self.dtype))

    def solve(self, b: Tensor) -> Tensor:  # M y = b, b [V, 3]
        if self._lu is not None:
            return torch.as_tensor(self._lu.solve(np.ascontiguousarray(b.detach().cpu().numpy(), np.float32)),
                                   dtype=b.dtype)
        if self._inv is not None:
            return (self._inv @ b.to(self.dtype)).to(b.dtype)
        return self._cg(b)

    def _cg(self, b: Tensor) -> Tensor:
        x = self._warm if self._warm is not None and self._warm.shape == b.shape else b / self.diag[:, None]
        r = b - torch.sparse.mm(self.M_t, x)
        z = r / self.diag[:, None]
        p = z.clone()
        rz = (r * z).sum(0)
        bn = b.norm(dim=0).clamp_min(1e-30)
        for k in range(self.cg_iters):
            if k % self.cg_check == 0 and bool((r.norm(dim=0) / bn).max() < self.cg_tol):  # host sync: rarely
                break
            ap = torch.sparse.mm(self.M_t, p)
            alpha = rz / (p * ap).sum(0).clamp_min(1e-30)
            x = x + alpha * p
            r = r - alpha * ap
            z = r / self.diag[:, None]
            rz_new = (r * z).sum(0)
            p = z + (rz_new / rz.clamp_min(1e-30)) * p
            rz = rz_new
        self._warm = x.detach()
        return x

    def to_x(self, u: Tensor) -> Tensor:
        return _Solve.apply(u, self)


class _Solve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, param: SmoothParam):
        ctx.param = param
        return param.solve(u)

    @staticmethod
    def backward(ctx, g):
        p = ctx.param
        warm = p._warm
        p._warm = None
        out = p.solve(g.contiguous())  # M symmetric: d(M^-1 u)/du^T g = M^-1 g
        p._warm = warm
        return out, None


class AdamUniform(torch.optim.Optimizer):
    """Adam whose second-moment estimate is the maximum over all entries of a parameter (Nicolet et al. Sec. 5:
    a uniform rescaling keeps the preconditioned step direction)."""

    def __init__(self, params, lr: float = 1e-2, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["t"], st["m"], st["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                st["t"] += 1
                st["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                m_hat = st["m"] / (1 - b1 ** st["t"])
                v_hat = st["v"].max() / (1 - b2 ** st["t"])
                p.add_(m_hat / (v_hat.sqrt() + group["eps"]), alpha=-group["lr"])
