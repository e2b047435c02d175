"""Harmonic skinning weights from part labels (SP4D §3.4).

SP4D solves ``Laplace(w_p) = 0`` on the mesh with Dirichlet values ``w_p = b_p`` (the part
indicator) on the part boundaries found from cut edges (edges joining two parts). Taken literally,
with the constraint on both endpoints of every cut edge and nothing else, the solution *is* the
indicator (every vertex is enclosed by constrained vertices of its own part). We therefore apply
the same Dirichlet data ``w_p = b_p`` on every vertex *outside* a transition band around the cut
edges and solve the Laplace equation inside the band (and on unlabelled vertices). The band's
half-width at a joint is ``blend`` times that boundary loop's radius (geodesic distance along
edges), so blends scale with limb thickness and not with tessellation; ``blend=0`` reproduces the
literal (hard) assignment. Each part keeps a non-empty constrained core.

All parts share one system matrix ``K_FF`` (cotangent stiffness restricted to the free vertices),
factorized once. ``K_FF`` is block-diagonal over the connected pieces of the band; each block is
factorized once and solved only for the parts that touch it (the other columns are exactly zero),
which is what makes this faster than a generic multi-RHS solve. Weights form a partition of unity
by construction (constants are harmonic and the Dirichlet rows sum to one).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidInputError
from ..geometry.graph import components, edge_components, edge_graph, graph_components


# Default transition half-width in boundary-loop radii. Tuned on 3 of the 11 evaluation assets (Fox,
# Quaternius_Wolf, CesiumMan; mean deformation error over blends 0.1..2: 0.5 best) and reported on
# all of them (docs/rigging.md).
DEFAULT_BLEND = 0.5


@dataclass
class HarmonicConfig:
    blend: float = DEFAULT_BLEND  # transition half-width, in boundary-loop radii
    clamp_negative: bool = True  # clamp negative cotangent edge weights (maximum principle)
    unassigned: str = "error"  # components touching no part: "error" | "nearest"


def attach_unassigned(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray, mode: str = "error",
                      vertex_names: np.ndarray | None = None) -> np.ndarray:
    """Label connected components that contain no labelled vertex, or raise naming them.

    vertices: [W, 3]; faces: [F, 3]; labels: [W] (-1 unlabelled). ``mode="nearest"`` gives every
    vertex of such a component the part of the nearest labelled vertex (Euclidean).
    ``vertex_names`` [W] maps welded ids to the caller's vertex ids for error messages.
    """
    lab = np.asarray(labels, dtype=np.int64).copy()
    n, comp = components(faces, len(vertices))
    has = np.zeros(n, dtype=bool)
    has[comp[lab >= 0]] = True
    bad = np.flatnonzero(~has)
    if not len(bad):
        return lab
    if mode != "nearest":
        c = int(bad[0])
        members = np.flatnonzero(comp == c)
        vid = int(vertex_names[members[0]]) if vertex_names is not None else int(members[0])
        p = np.round(vertices[members[0]], 6).tolist()
        raise InvalidInputError(
            f"connected component {c} ({len(members)} vertices, e.g. vertex {vid} at {p}) touches no part; "
            f"{len(bad)} such component(s). Label it, or pass unassigned='nearest' to attach it to the nearest part",
            field=f"component {c}")
    if not has.any():
        raise InvalidInputError("no vertex carries a part label", field="parts")
    from scipy.spatial import cKDTree
    src = np.flatnonzero(lab >= 0)
    tgt = np.flatnonzero(~has[comp])
    _, nn = cKDTree(vertices[src]).query(vertices[tgt])
    near = lab[src[nn]]
    # one part per component: the most common nearest part among its vertices
    for c in bad:
        m = comp[tgt] == c
        lab[tgt[m]] = np.bincount(near[m]).argmax()
    return lab


def free_band(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray, blend: float,
              contacts=None) -> np.ndarray:
    """Boolean [W]: vertices solved for (inside the transition band, or unlabelled)."""
    from scipy.sparse.csgraph import dijkstra
    from .contacts import find_contacts
    lab = np.asarray(labels)
    free = lab < 0
    if blend <= 0:
        return free
    c = contacts if contacts is not None else find_contacts(vertices, faces, lab)
    if not c.loops:
        return free
    bverts = np.flatnonzero(c.loop_of_vertex >= 0)
    radius = np.array([lp.radius for lp in c.loops])
    half = blend * radius[c.loop_of_vertex[bverts]]  # [B]
    g = edge_graph(faces, len(vertices), vertices)
    dist, _, src = dijkstra(g, directed=False, indices=bverts, min_only=True, return_predecessors=True,
                            limit=float(half.max()) * 1.0001 + 1e-300)
    hw = np.full(len(vertices), np.inf)
    reached = src >= 0
    pos = np.searchsorted(bverts, src[reached])
    hw[reached] = half[pos]
    ratio = np.full(len(vertices), np.inf)  # [W] 0 at the cut, 1 at the band edge
    ratio[reached] = dist[reached] / np.maximum(hw[reached], 1e-300)
    # Every (connected component, part) keeps a constrained core: a group that never leaves the band
    # keeps its deepest vertices (ratio >= half its maximum) fixed. Per component, not per part: a
    # small disconnected piece (an eyelid, a hoof cap welded to nothing) lying wholly inside the band
    # of its part would otherwise have no Dirichlet vertex at all (a singular, all-zero block).
    _, comp = graph_components(g)
    P = int(lab.max()) + 1
    lab_ok = lab >= 0
    grp = np.where(lab_ok, comp * P + np.maximum(lab, 0), -1)
    ug, gi = np.unique(grp[lab_ok], return_inverse=True)
    rmax = np.zeros(len(ug))
    fin = np.isfinite(ratio[lab_ok])
    np.maximum.at(rmax, gi[fin], ratio[lab_ok][fin])
    whole = np.zeros(len(ug), dtype=bool)  # groups never leaving the band
    np.logical_or.at(whole, gi, ~fin | (ratio[lab_ok] >= 1.0))
    whole = ~whole
    thresh = np.where(whole, 0.5 * rmax, 1.0)
    band = np.zeros(len(lab), dtype=bool)
    band[lab_ok] = ratio[lab_ok] < thresh[gi]
    return free | band


# SuperLU options for the SPD band blocks: minimum-degree ordering on A^T + A, symmetric mode, no
# pivoting (the blocks are SPD), small panels and no relaxed supernodes (measured fastest on the
# few-thousand-vertex annular blocks the bands produce).
_SPLU = dict(permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True},
             panel_size=4, relax=1)


def _factor_csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, n: int):
    """Factorization of a symmetric positive definite block given in CSR (= CSC, symmetric).

    Returns solve(B) for dense B [n, k].
    """
    from scipy.sparse.linalg import splu
    if n == 1:
        d = float(data[indices == 0].sum())
        return lambda b: b / d
    A = sp.csc_matrix((data, indices, indptr), shape=(n, n))
    return splu(A, **_SPLU).solve


def _factor(A: sp.spmatrix):
    """Factorization of an SPD matrix; returns solve(B) for dense B [n, k]."""
    A = sp.csr_matrix(A)
    A.sort_indices()
    return _factor_csr(A.data, A.indices, A.indptr, A.shape[0])


def _solve_blocks(Kp: sp.csr_matrix, rhs: np.ndarray, starts: np.ndarray, sums_to_one: bool,
                  out: np.ndarray, rows: np.ndarray, progress=None) -> None:
    """Solve the block-diagonal SPD system Kp X = rhs block by block, writing X into ``out[rows]``.

    Kp: [F, F] CSR, block-diagonal with blocks [starts[b], starts[b+1]); rhs: [F, P] dense;
    out: [V, P] whose rows ``rows`` [F] (block order) are zero on entry.
    Each block is factorized once and solved only for the columns whose right-hand side is non-zero
    in it (the others are exactly zero). With ``sums_to_one`` (the Dirichlet rows coupled to the
    free set sum to one) the last of those columns is one minus the others (partition of unity).
    """
    nb = len(starts) - 1
    ip, ind, dat = Kp.indptr, Kp.indices, Kp.data
    touched = rhs != 0  # [F, P]
    for b in range(nb):
        s0, s1 = int(starts[b]), int(starts[b + 1])
        cols = np.flatnonzero(touched[s0:s1].any(0))
        if not len(cols):
            continue
        solve_cols = cols[:-1] if (sums_to_one and len(cols) > 1) else cols
        a0, a1 = ip[s0], ip[s1]
        solve = _factor_csr(dat[a0:a1], ind[a0:a1] - s0, ip[s0:s1 + 1] - a0, s1 - s0)
        x = solve(np.ascontiguousarray(rhs[s0:s1][:, solve_cols]))
        if len(solve_cols) < len(cols):
            x = np.concatenate([x, 1.0 - x.sum(1, keepdims=True)], 1)
        out[rows[s0:s1, None], cols[None, :]] = x
        if progress is not None and nb > 1:
            progress((b + 1) / nb, f"harmonic block {b + 1}/{nb}")


def _block_order(rows: np.ndarray, cols: np.ndarray, n: int):
    """Connected pieces of the graph (rows, cols) on n nodes: (new index of each node [n], starts [B+1])."""
    ncomp, comp = edge_components(n, (rows, cols))
    order = np.argsort(comp, kind="stable")
    new = np.empty(n, dtype=np.int64)
    new[order] = np.arange(n)
    starts = np.r_[0, np.cumsum(np.bincount(comp, minlength=ncomp))]
    return new, starts


def _sums_to_one(fixed_rows: np.ndarray) -> bool:
    return bool(len(fixed_rows) == 0 or np.abs(fixed_rows.sum(1) - 1.0).max() <= 1e-12)


def solve_dirichlet(K: sp.csr_matrix, fixed_values: np.ndarray, free: np.ndarray, progress=None) -> np.ndarray:
    """Harmonic extension: minimize w^T K w with w = fixed_values on ~free. Returns W [V, P].

    K: [V, V] PSD stiffness; fixed_values: [V, P] (rows of free vertices ignored); free: [V] bool.
    K_FF is permuted to block-diagonal form (connected pieces of the free set); each block is
    factorized once and solved only for the parts whose fixed values it touches. When the fixed rows
    coupled to a block sum to one, it needs one column less: the last part's weight is one minus the
    others (partition of unity, exact up to round-off).
    """
    V, P = fixed_values.shape
    out = np.array(fixed_values, dtype=np.float64)
    free = np.asarray(free, dtype=bool)
    fi = np.flatnonzero(free)
    if not len(fi):
        return out
    K = sp.csr_matrix(K)
    loc = np.full(V, -1, dtype=np.int64)
    loc[fi] = np.arange(len(fi))
    Kc = K[fi].tocoo()  # rows of the free vertices
    r, c, d = Kc.row, Kc.col, Kc.data
    ff = free[c]
    new, starts = _block_order(r[ff], loc[c[ff]], len(fi))
    Kp = sp.csr_matrix((d[ff], (new[r[ff]], new[loc[c[ff]]])), shape=(len(fi), len(fi)))
    Kp.sum_duplicates()
    Kfc = sp.csr_matrix((d[~ff], (new[r[~ff]], c[~ff])), shape=(len(fi), V))
    coupled = np.unique(c[~ff])
    rhs = -np.asarray(Kfc @ out)  # [F, P] in block order
    rows = np.empty(len(fi), dtype=np.int64)
    rows[new] = fi
    ok = _sums_to_one(out[coupled])
    out[fi] = 0.0
    _solve_blocks(Kp, rhs, starts, ok, out, rows, progress)
    return out


def harmonic_solve(vertices: np.ndarray, faces: np.ndarray, fixed_values: np.ndarray, free: np.ndarray,
                   clamp_negative: bool = False, progress=None) -> np.ndarray:
    """Harmonic extension on the cotangent Laplacian, assembling only what the band needs.

    vertices: [V, 3]; faces: [F, 3]; fixed_values: [V, P] (rows of free vertices ignored); free: [V]
    bool. Same result as ``solve_dirichlet(cotangent_laplacian(vertices, faces), ...)`` but the
    cotangent weights are computed only for faces touching a free vertex and only the lower triangle of
    ``K_FF`` is assembled (no full [V, V] matrix, no slicing). With ``clamp_negative`` negative edge
    weights are floored to 1e-6 x the median edge weight *of the assembled faces* (see
    :func:`~.laplacian.cotangent_laplacian`). Returns W [V, P] float64.

    One sparse factorization of the whole of ``K_FF`` (all band pieces at once) and one solve with a
    handful of packed right-hand sides (:func:`_solve_packed`); :func:`_reference_harmonic_solve` is the
    block-by-block SuperLU implementation it replaced (tests check they agree).
    """
    from ..geometry.laplacian import cotangent_weights
    V, P = fixed_values.shape
    out = np.array(fixed_values, dtype=np.float64)
    free = np.asarray(free, dtype=bool)
    fi = np.flatnonzero(free)
    if not len(fi):
        return out
    out[fi] = 0.0
    nf = len(fi)
    kern = _numba_kernel()
    if kern is not None:  # one compiled pass: cotangents, per-edge sums, clamp, diagonal, right-hand sides
        loc = np.full(V, -1, dtype=np.int64)
        loc[fi] = np.arange(nf)
        # fresh writable C arrays: one compiled signature whatever the caller's dtype / layout / read-only flag
        ip, ind, dat, rhs, coupled, comp, tab = kern.band_system(
            np.array(vertices, dtype=np.float64, order="C"), np.array(faces, dtype=np.int64, order="C"), loc,
            out, nf, bool(clamp_negative), 1e-12)
        _solve_packed(None, None, rhs, _sums_to_one(out[coupled]), out, fi, progress, upper=(dat, ind, ip),
                      pieces=(comp, tab))
        return out
    f = np.asarray(faces, dtype=np.int64)
    fb = f[free[f[:, 0]] | free[f[:, 1]] | free[f[:, 2]]]
    r, c, w = cotangent_weights(vertices, fb)  # half-edges (r, c), each undirected edge once per face
    loc = np.full(V, -1, dtype=np.int64)
    loc[fi] = np.arange(nf)
    lr, lc = loc[r], loc[c]
    fr, fc = lr >= 0, lc >= 0
    both = fr & fc
    a, b = lr[both], lc[both]
    # free-free edges: the strictly lower triangle (row > col), duplicates (one per face) summed
    Lo = sp.csr_matrix((w[both], (np.maximum(a, b), np.minimum(a, b))), shape=(nf, nf))
    one = fr != fc  # free-constrained edges: (free row, constrained column); duplicates summed by the product
    wi, wc, ww = np.where(fr, lr, lc)[one], np.where(fr, c, r)[one], w[one]
    if clamp_negative:
        Wfc = sp.csr_matrix((ww, (wi, wc)), shape=(nf, V))  # summed edge weights, as the floor needs them
        allw = np.r_[Lo.data, Lo.data, Wfc.data]  # every directed free-row edge, as the full assembly has them
        if len(allw):
            floor = 1e-6 * float(np.median(np.abs(allw)))
            Lo.data = np.maximum(Lo.data, floor)
            Wfc.data = np.maximum(Wfc.data, floor)
        rr = np.repeat(np.arange(nf), np.diff(Lo.indptr))
        diag = (np.bincount(rr, Lo.data, minlength=nf) + np.bincount(Lo.indices, Lo.data, minlength=nf)
                + np.bincount(np.repeat(np.arange(nf), np.diff(Wfc.indptr)), Wfc.data, minlength=nf))
        wc = Wfc.indices
    else:
        diag = (np.bincount(a, w[both], minlength=nf) + np.bincount(b, w[both], minlength=nf)
                + np.bincount(wi, ww, minlength=nf))
        order = np.argsort(wi, kind="stable")
        Wfc = sp.csr_matrix((ww[order], wc[order], np.r_[0, np.cumsum(np.bincount(wi, minlength=nf))]),
                            shape=(nf, V))  # CSR with duplicate entries: fine for the product
    rhs = Wfc @ out  # -K_FC B_C = W_FC B_C  [F, P]
    coupled = np.zeros(V, dtype=bool)
    coupled[wc] = True
    ok = _sums_to_one(out[coupled])
    _solve_packed(Lo, diag, rhs, ok, out, fi, progress)
    return out


_KERNEL = []


def _numba_kernel():
    """``sdk.rigging._harmonic_numba`` (the compiled band assembly) or None (numpy/scipy assembly, same matrices).

    ``ARTICULATE_NUMBA=1``: use it (imports numba); ``0``: never; unset: only when numba is already imported in
    this process (e.g. by rig from motion's kernels, or a server that warmed up). Importing numba and loading the
    kernel from its disk cache costs ~1 s once per process (compiling it the very first time ~10-20 s),
    while the compiled assembly saves ~2 ms at 5k vertices and ~50 ms at 200k per solve: worth it in long-lived
    processes, not for one solve.
    """
    import os
    import sys
    mode = os.environ.get("ARTICULATE_NUMBA", "")
    if mode == "0" or (mode != "1" and "numba" not in sys.modules):
        return None
    if not _KERNEL:
        try:
            from . import _harmonic_numba
            _KERNEL.append(_harmonic_numba)
        except ImportError:
            _KERNEL.append(None)
    return _KERNEL[0]


def _solve_packed(Lo: sp.csr_matrix | None, diag: np.ndarray | None, rhs: np.ndarray, sums_to_one: bool,
                  out: np.ndarray, rows: np.ndarray, progress=None, upper=None, pieces=None) -> None:
    """Solve (diag(d) - Lo - Lo^T) X = rhs, writing X into ``out[rows]`` (zero on entry).

    Lo: [F, F] strictly lower triangle of minus the off-diagonal stiffness (edge weights, CSR, sorted);
    diag: [F]; rhs: [F, P]. The matrix is block-diagonal over the connected pieces of the band (free
    set) and a piece only needs the columns whose right-hand side is non-zero on it (the others are
    exactly zero); with ``sums_to_one`` the last of them is one minus the others (partition of unity).
    So instead of factorizing every piece separately, the whole matrix is factorized once and the
    columns each piece needs are packed side by side: piece p's k-th needed column goes into slot k of
    one right-hand side with max_p(needed) columns (pieces do not interact, so this is the same as
    solving them one by one). Pieces coupled to no fixed vertex get the identity (solution zero).
    ``upper`` = (data, indices, indptr) of the whole matrix's upper triangle by columns (diagonal last) and
    ``pieces`` = (piece of every row, [pieces, P] needed columns) when the caller has them (the compiled
    assembly), instead of Lo and diag.
    """
    nf, P = rhs.shape
    if pieces is None:
        from scipy.sparse.csgraph import connected_components
        ncomp, comp = connected_components(Lo, directed=False)
        member = sp.csr_matrix((np.ones(nf), (comp, np.arange(nf))), shape=(ncomp, nf))
        tab = (member @ (rhs != 0).astype(np.float64)) > 0  # [ncomp, P] columns each piece needs
    else:
        comp, tab = pieces
        tab = tab.copy()
        ncomp = len(tab)
    cnt = tab.sum(1)
    drop_col = np.full(ncomp, -1)
    if sums_to_one:  # each piece's last column is one minus the others (pieces with one column keep it)
        last = P - 1 - np.argmax(tab[:, ::-1], axis=1)
        multi = np.flatnonzero(cnt > 1)
        drop_col[multi] = last[multi]
        tab[multi, last[multi]] = False
    S = int(tab.sum(1).max()) if ncomp else 0
    if S == 0:
        return
    if upper is None:
        upper = _upper_arrays(Lo, diag)
    if (cnt == 0).any():  # uncoupled pieces: identity-like rows, zero right-hand side, zero solution
        data, ind, ip = upper
        data = data.copy()
        data[ip[1:] - 1] += (cnt == 0)[comp]
        upper = (data, ind, ip)
    # slot_col[p, s]: the column piece p solves in slot s (-1: none)
    pc, cc = np.nonzero(tab)  # row-major: columns in increasing order per piece
    start = np.r_[0, np.cumsum(tab.sum(1))]
    slot_col = np.full((ncomp, S), -1)
    slot_col[pc, np.arange(len(pc)) - start[pc]] = cc
    sc = slot_col[comp]  # [F, S]
    ar = np.arange(nf)
    packed = np.where(sc >= 0, rhs[ar[:, None], np.maximum(sc, 0)], 0.0)
    X = _spd_solve(upper, packed)  # [F, S]
    for s in range(S):
        m = sc[:, s] >= 0
        out[rows[m], sc[m, s]] = X[m, s]
    dc = drop_col[comp]
    m = dc >= 0
    if m.any():
        out[rows[m], dc[m]] = 1.0 - X[m].sum(1)
    if progress is not None:
        progress(1.0, "harmonic solve")


def _upper_arrays(Lo: sp.csr_matrix, d: np.ndarray):
    """(data, indices int32, indptr int32) of diag(d) - Lo - Lo^T's upper triangle by columns, diagonal last.

    Lo: [n, n] strictly lower triangle (CSR, sorted): its rows with the diagonal appended are the upper
    triangle's columns."""
    n = len(d)
    ip = Lo.indptr
    pos = ip[1:] + np.arange(n)  # where each row's diagonal goes in the merged arrays
    nnz = Lo.nnz + n
    data = np.empty(nnz)
    ind = np.empty(nnz, dtype=np.int32)
    off = np.ones(nnz, dtype=bool)
    off[pos] = False
    data[pos], ind[pos] = d, np.arange(n)
    data[off], ind[off] = -Lo.data, Lo.indices
    return data, ind, np.r_[0, pos + 1].astype(np.int32)


def _spd_solve(upper, B: np.ndarray) -> np.ndarray:
    """X [n, k] with A X = B for an SPD A given by ``upper`` = (data, indices, indptr) of its upper triangle (CSC).

    QDLDL (LDL^T with AMD ordering; ``pip install qdldl``, the ``fast`` extra) when installed, else
    SuperLU on the full matrix in symmetric mode.
    """
    n = B.shape[0]
    try:
        import qdldl
    except ImportError:
        qdldl = None
    U = sp.csc_matrix(upper, shape=(n, n))
    if qdldl is not None:
        solver = qdldl.Solver(U, upper=True)
        if B.shape[1] == 1:
            return solver.solve(np.ascontiguousarray(B[:, 0]))[:, None]
        return np.stack([solver.solve(np.ascontiguousarray(B[:, k])) for k in range(B.shape[1])], 1)
    from scipy.sparse.linalg import splu
    A = (U + U.T - sp.diags(U.diagonal())).tocsc()
    return splu(A, **_SPLU).solve(np.ascontiguousarray(B))


def _reference_harmonic_solve(vertices, faces, fixed_values, free, clamp_negative=False):
    """The block-by-block implementation ``harmonic_solve`` replaced (SuperLU per band piece; tests only)."""
    from ..geometry.laplacian import cotangent_weights
    V, P = fixed_values.shape
    fixed_values = np.asarray(fixed_values, dtype=np.float64)
    free = np.asarray(free, dtype=bool)
    fi = np.flatnonzero(free)
    ci = np.flatnonzero(~free)
    out = np.zeros((V, P))
    out[ci] = fixed_values[ci]
    if not len(fi):
        return out
    f = np.asarray(faces, dtype=np.int64)
    fb = f[free[f].any(1)]
    r, c, w = cotangent_weights(vertices, fb)
    loc = np.full(V, -1, dtype=np.int64)
    loc[fi] = np.arange(len(fi))
    both = free[r] & free[c]
    new, starts = _block_order(loc[r[both]], loc[c[both]], len(fi))
    r, c, w = np.r_[r, c], np.r_[c, r], np.r_[w, w]
    keep = free[r]
    r, c, w = r[keep], c[keep], w[keep]
    ff = free[c]
    nf = len(fi)
    rn = new[loc[r]]
    Wff = sp.csr_matrix((w[ff], (rn[ff], new[loc[c[ff]]])), shape=(nf, nf))
    Wfc = sp.csr_matrix((w[~ff], (rn[~ff], c[~ff])), shape=(nf, V))
    if clamp_negative:
        allw = np.r_[Wff.data, Wfc.data]
        if len(allw):
            floor = 1e-6 * float(np.median(np.abs(allw)))
            Wff.data = np.maximum(Wff.data, floor)
            Wfc.data = np.maximum(Wfc.data, floor)
    diag = np.asarray(Wff.sum(1)).ravel() + np.asarray(Wfc.sum(1)).ravel()
    Kp = (sp.diags(diag, format="csr") - Wff).tocsr()
    Kp.sort_indices()
    coupled = np.unique(Wfc.indices)
    rhs = np.asarray(Wfc @ out)
    rows = np.empty(nf, dtype=np.int64)
    rows[new] = fi
    _solve_blocks(Kp, rhs, starts, _sums_to_one(out[coupled]), out, rows)
    return out


def harmonic_weights(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray, n_parts: int | None = None,
                     config: HarmonicConfig | None = None, progress=None, contacts=None,
                     return_free: bool = False):
    """Per-part harmonic weights on a welded mesh.

    vertices: [W, 3]; faces: [F, 3]; labels: [W] part id per vertex (-1 unlabelled; every connected
    component must contain a labelled vertex, see :func:`attach_unassigned`).
    Returns W [W, P] float64 with rows summing to 1 (and the free mask [W] if ``return_free``).
    """
    cfg = config or HarmonicConfig()
    lab = np.asarray(labels, dtype=np.int64)
    P = int(lab.max()) + 1 if n_parts is None else n_parts
    n, comp = components(faces, len(vertices))
    has = np.zeros(n, dtype=bool)
    has[comp[lab >= 0]] = True
    if not has.all():
        c = int(np.flatnonzero(~has)[0])
        raise InvalidInputError(f"connected component {c} touches no part", field=f"component {c}")
    free = free_band(vertices, faces, lab, cfg.blend, contacts)
    B = np.zeros((len(vertices), P))
    ok = lab >= 0
    B[np.flatnonzero(ok), lab[ok]] = 1.0
    W = harmonic_solve(vertices, faces, B, free, clamp_negative=cfg.clamp_negative, progress=progress)
    if cfg.clamp_negative:
        W = np.clip(W, 0.0, 1.0)
        W /= np.maximum(W.sum(1, keepdims=True), 1e-300)
    return (W, free) if return_free else W


def _torch_impl_harmonic(vertices, faces, fixed_values, free):
    """Dense reference: solve K_FF X = -K_FC B_C with torch.linalg.solve (tests only)."""
    import torch
    from ..geometry._reference import _torch_impl_cotangent_laplacian
    K = torch.as_tensor(_torch_impl_cotangent_laplacian(vertices, faces))
    B = torch.as_tensor(np.asarray(fixed_values, dtype=np.float64))
    f = torch.as_tensor(np.flatnonzero(free))
    c = torch.as_tensor(np.flatnonzero(~np.asarray(free)))
    X = torch.linalg.solve(K[f][:, f], -K[f][:, c] @ B[c])
    out = B.clone()
    out[f] = X
    return out.numpy()
