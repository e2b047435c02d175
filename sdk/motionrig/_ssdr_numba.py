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


@numba.njit(cache=True, nogil=True)
def transform_classes(x, y, m, recon, pv, pj, pw, pfit, class_start):  # pragma: no cover - compiled
    """The transform step of ``ssdr._reference_transform_step``, class by class, in float64.

    x [N, 3], y [N, T, 3], m [B, T, 4, 4] (updated), recon [N, T, 3] (updated; vertex-major for locality); pairs (vertex pv, bone pj,
    weight pw, takes part in the fit pfit) grouped by colour class: class c is pairs class_start[c]:class_start[c+1]
    (bones of one class share no vertex). Every bone of a class is the exact weighted Procrustes minimiser of the
    residual the other bones leave (targets q / w with weights w^2), then recon is updated for its pairs.
    """
    B, T = m.shape[0], m.shape[1]
    ws = np.zeros(B)
    xc = np.zeros((B, 3))
    qc = np.zeros((B, T, 3))
    h = np.zeros((B, T, 3, 3))
    used = np.zeros(B, dtype=np.bool_)
    old = np.empty((T, 3))
    for c in range(len(class_start) - 1):
        s0, s1 = class_start[c], class_start[c + 1]
        if s1 == s0:
            continue
        for p in range(s0, s1):
            j = pj[p]
            ws[j] = 0.0
            xc[j, :] = 0.0
            qc[j] = 0.0
            h[j] = 0.0
            used[j] = True
        for p in range(s0, s1):  # weighted centroids
            if not pfit[p]:
                continue
            j, v, fw = pj[p], pv[p], pw[p]
            f2 = fw * fw
            ws[j] += f2
            for a in range(3):
                xc[j, a] += f2 * x[v, a]
        for j in range(B):
            if used[j]:
                wsj = max(ws[j], 1e-30)
                ws[j] = wsj
                for a in range(3):
                    xc[j, a] /= wsj
        for p in range(s0, s1):  # target centroids and covariances
            if not pfit[p]:
                continue
            j, v, fw = pj[p], pv[p], pw[p]
            f0 = fw * (x[v, 0] - xc[j, 0])
            f1 = fw * (x[v, 1] - xc[j, 1])
            f2 = fw * (x[v, 2] - xc[j, 2])
            for t in range(T):
                for a in range(3):
                    o = m[j, t, a, 0] * x[v, 0] + m[j, t, a, 1] * x[v, 1] + m[j, t, a, 2] * x[v, 2] + m[j, t, a, 3]
                    q = y[v, t, a] - recon[v, t, a] + fw * o
                    qc[j, t, a] += fw * q
                    h[j, t, 0, a] += f0 * q
                    h[j, t, 1, a] += f1 * q
                    h[j, t, 2, a] += f2 * q
        for j in range(B):
            if not used[j]:
                continue
            for t in range(T):
                u, _, vh = np.linalg.svd(h[j, t])
                r = vh.T @ u.T
                if np.linalg.det(r) < 0:
                    vv = vh.T.copy()
                    vv[:, 2] = -vv[:, 2]
                    r = vv @ u.T
                # keep the old transform for the recon update (written below), then set the new one
                for a in range(3):
                    ta = qc[j, t, a] / ws[j] - (r[a, 0] * xc[j, 0] + r[a, 1] * xc[j, 1] + r[a, 2] * xc[j, 2])
                    for b in range(3):
                        h[j, t, a, b] = r[a, b]  # reuse h as the new rotation
                    qc[j, t, a] = ta  # and qc as the new translation
        for p in range(s0, s1):  # recon += w (new - old) for every pair of the class
            j, v, wj = pj[p], pv[p], pw[p]
            for t in range(T):
                for a in range(3):
                    o = m[j, t, a, 0] * x[v, 0] + m[j, t, a, 1] * x[v, 1] + m[j, t, a, 2] * x[v, 2] + m[j, t, a, 3]
                    nw = h[j, t, a, 0] * x[v, 0] + h[j, t, a, 1] * x[v, 1] + h[j, t, a, 2] * x[v, 2] + qc[j, t, a]
                    recon[v, t, a] += wj * (nw - o)
        for j in range(B):
            if used[j]:
                for t in range(T):
                    for a in range(3):
                        for b in range(3):
                            m[j, t, a, b] = h[j, t, a, b]
                        m[j, t, a, 3] = qc[j, t, a]
                used[j] = False
