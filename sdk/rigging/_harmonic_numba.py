"""numba kernel for the band assembly of ``harmonic_solve`` (optional: ``pip install numba``).

Importing this module raises ImportError without numba; ``sdk.rigging.harmonic`` then assembles with numpy/scipy
(same matrices). Compiled on first use and cached on disk (``cache=True``).
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _sum_duplicates(keys, weights, n):  # pragma: no cover - compiled
    """The first ``n`` (key, weight) pairs with equal keys summed: (unique keys sorted, their sums, count)."""
    o = np.argsort(keys[:n], kind="mergesort")
    uk = np.empty(n, dtype=np.int64)
    uw = np.empty(n)
    nu = 0
    for q in range(n):
        key = keys[o[q]]
        if nu > 0 and uk[nu - 1] == key:
            uw[nu - 1] += weights[o[q]]
        else:
            uk[nu] = key
            uw[nu] = weights[o[q]]
            nu += 1
    return uk, uw, nu


@numba.njit(cache=True, nogil=True)
def band_system(vertices, faces, loc, fixed, nf, clamp, eps):  # pragma: no cover - compiled
    """Cotangent weights of the faces touching a free vertex, summed per edge, and the free system.

    vertices [V, 3]; faces [F, 3]; loc [V] local index of free vertices (-1: fixed); fixed [V, P] (zero on free
    rows); clamp: floor the summed edge weights at 1e-6 x their median (as ``cotangent_laplacian``).
    Returns (indptr [nf+1] int32, indices int32, data) of K_FF's lower triangle by rows with each row's diagonal
    last (= its upper triangle by columns, CSC), rhs [nf, P] = W_FC fixed, coupled [V] bool (fixed vertices with an
    edge to a free one), comp [nf] band piece of every free vertex (0..ncomp-1), tab [ncomp, P] bool (columns
    whose right-hand side is non-zero on the piece).
    """
    F = faces.shape[0]
    P = fixed.shape[1]
    V = loc.shape[0]
    kff = np.empty(3 * F, dtype=np.int64)  # hi * nf + lo
    wff = np.empty(3 * F)
    kfc = np.empty(3 * F, dtype=np.int64)  # free * V + fixed
    wfc = np.empty(3 * F)
    nff = 0
    nfc = 0
    for f in range(F):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        if loc[i0] < 0 and loc[i1] < 0 and loc[i2] < 0:
            continue
        e0x, e0y, e0z = vertices[i2, 0] - vertices[i1, 0], vertices[i2, 1] - vertices[i1, 1], vertices[i2, 2] - vertices[i1, 2]
        e1x, e1y, e1z = vertices[i0, 0] - vertices[i2, 0], vertices[i0, 1] - vertices[i2, 1], vertices[i0, 2] - vertices[i2, 2]
        e2x, e2y, e2z = vertices[i1, 0] - vertices[i0, 0], vertices[i1, 1] - vertices[i0, 1], vertices[i1, 2] - vertices[i0, 2]
        l0 = e0x * e0x + e0y * e0y + e0z * e0z
        l1 = e1x * e1x + e1y * e1y + e1z * e1z
        l2 = e2x * e2x + e2y * e2y + e2z * e2z
        c0 = e1y * e2z - e1z * e2y
        c1 = e1z * e2x - e1x * e2z
        c2 = e1x * e2y - e1y * e2x
        a2 = np.sqrt(c0 * c0 + c1 * c1 + c2 * c2)
        a2 = max(a2, eps * max(max(l0, l1), l2))
        inv = 1.0 / (4.0 * max(a2, 1e-300))
        ws = ((l1 + l2 - l0) * inv, (l2 + l0 - l1) * inv, (l0 + l1 - l2) * inv)
        rs = (i1, i2, i0)
        cs = (i2, i0, i1)
        for k in range(3):
            r, c, w = rs[k], cs[k], ws[k]
            lr, lc = loc[r], loc[c]
            if lr >= 0 and lc >= 0:
                kff[nff] = max(lr, lc) * nf + min(lr, lc)
                wff[nff] = w
                nff += 1
            elif lr >= 0:
                kfc[nfc] = lr * V + c
                wfc[nfc] = w
                nfc += 1
            elif lc >= 0:
                kfc[nfc] = lc * V + r
                wfc[nfc] = w
                nfc += 1
    # sum duplicates (one entry per face sharing the edge)
    uk, uw, nu = _sum_duplicates(kff, wff, nff)
    vk, vw, nv = _sum_duplicates(kfc, wfc, nfc)
    if clamp and nu + nv > 0:
        allw = np.empty(2 * nu + nv)
        for q in range(nu):
            allw[2 * q] = abs(uw[q])
            allw[2 * q + 1] = abs(uw[q])
        for q in range(nv):
            allw[2 * nu + q] = abs(vw[q])
        floor = 1e-6 * np.median(allw)
        for q in range(nu):
            uw[q] = max(uw[q], floor)
        for q in range(nv):
            vw[q] = max(vw[q], floor)
    # K_FF's upper triangle by columns == lower triangle by rows, diagonal last in each row (qdldl's input)
    indptr = np.zeros(nf + 1, dtype=np.int32)
    for q in range(nu):
        indptr[uk[q] // nf + 1] += 1
    for i in range(nf):
        indptr[i + 1] += indptr[i] + 1
    indices = np.empty(nu + nf, dtype=np.int32)
    data = np.empty(nu + nf)
    diag = np.zeros(nf)
    parent = np.arange(nf)  # union-find over the free-free edges: the band pieces
    fill = indptr[:-1].copy()
    for q in range(nu):
        hi = uk[q] // nf
        lo = uk[q] - hi * nf
        indices[fill[hi]] = lo
        data[fill[hi]] = -uw[q]
        fill[hi] += 1
        diag[hi] += uw[q]
        diag[lo] += uw[q]
        a, b = hi, lo
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a != b:
            parent[max(a, b)] = min(a, b)
    rhs = np.zeros((nf, P))
    coupled = np.zeros(V, dtype=np.bool_)
    for q in range(nv):
        i = vk[q] // V
        c = vk[q] - i * V
        w = vw[q]
        diag[i] += w
        coupled[c] = True
        for p in range(P):
            rhs[i, p] += w * fixed[c, p]
    for i in range(nf):
        indices[indptr[i + 1] - 1] = i
        data[indptr[i + 1] - 1] = diag[i]
    comp = np.empty(nf, dtype=np.int64)  # piece ids 0..ncomp-1 in order of first vertex
    ncomp = 0
    for i in range(nf):
        r = i
        while parent[r] != r:
            r = parent[r]
        if r == i:
            comp[i] = ncomp
            ncomp += 1
        else:
            comp[i] = comp[r]
    tab = np.zeros((ncomp, P), dtype=np.bool_)  # columns each piece needs
    for i in range(nf):
        for p in range(P):
            if rhs[i, p] != 0:
                tab[comp[i], p] = True
    return indptr, indices, data, rhs, coupled, comp, tab
