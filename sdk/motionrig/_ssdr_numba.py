"""numba kernels for the SSDR weight step (optional: ``pip install numba``; the torch path is the reference).

Importing this module raises ImportError without numba; :func:`sdk.motionrig.ssdr._numba_kernels` then falls
back to torch. Kernels are compiled on first use and cached on disk (``cache=True``).
"""
from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def simplex_qp_rows(g, h, w0, mask, lip, iters, tol, out):  # pragma: no cover - compiled
    """Row by row, exactly the iteration of ``ssdr._reference_simplex_qp``.

    g [n, C, C], h [n, C], w0 [n, C] feasible start, mask [n, C] bool (False: weight stays 0), lip [n]
    (2 x the largest eigenvalue of g), out [n, C] <- the solutions.
    """
    n, C = w0.shape
    w = np.empty(C)
    z = np.empty(C)
    wn = np.empty(C)
    v = np.empty(C)
    u = np.empty(C)
    for r in range(n):
        for a in range(C):
            w[a] = w0[r, a]
            z[a] = w0[r, a]
        tk = 1.0
        L = lip[r]
        done = False
        for it in range(iters):
            for a in range(C):  # gradient step
                s = 0.0
                for b in range(C):
                    s += g[r, a, b] * z[b]
                gr = 2.0 * (s - h[r, a])
                v[a] = z[a] - gr / L if mask[r, a] else -1e9
            for a in range(C):  # sort descending (insertion sort, C is small)
                x = v[a]
                b = a - 1
                while b >= 0 and u[b] < x:
                    u[b + 1] = u[b]
                    b -= 1
                u[b + 1] = x
            cum = 0.0
            rho = 0
            css_rho = u[0] - 1.0
            for k in range(C):  # projection threshold: last k with u_k - (sum_{<=k} u - 1) / (k + 1) > 0
                cum += u[k]
                if u[k] - (cum - 1.0) / (k + 1) > 0:
                    rho = k
                    css_rho = cum - 1.0
            theta = css_rho / (rho + 1)
            for a in range(C):
                wn[a] = max(v[a] - theta, 0.0)
            tk_new = (1.0 + math.sqrt(1.0 + 4.0 * tk * tk)) / 2.0
            beta = (tk - 1.0) / tk_new
            for a in range(C):
                z[a] = wn[a] + beta * (wn[a] - w[a])
            if it % 5 == 4:
                mv = 0.0
                for a in range(C):
                    mv = max(mv, abs(wn[a] - w[a]))
                if mv < tol:
                    for a in range(C):
                        out[r, a] = wn[a]
                    done = True
                    break
            for a in range(C):
                w[a] = wn[a]
            tk = tk_new
        if not done:
            for a in range(C):
                out[r, a] = w[a]
