"""Where parts touch: cut edges, boundary loops (centroid, radius, contact length) and proximity.

A *cut edge* joins two vertices with different part labels (SP4D §3.4's boundary ``dOmega_p``).
Cut edges of the same part pair that share a triangle are chained into *loops*: one loop is one
physical joint between two parts (an elbow ring), even when the pair touches in several places.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..geometry.graph import edge_components, unique_edges


@dataclass
class Loop:
    parts: tuple[int, int]  # (p, q) with p < q
    vertices: np.ndarray  # [n] welded vertex ids on either side of the cut
    centroid: np.ndarray  # [3] length-weighted centroid of the cut-edge midpoints
    radius: float  # mean distance of the cut-edge midpoints to the centroid
    length: float  # total cut-edge length (contact measure)


@dataclass
class Contacts:
    cut_edges: np.ndarray  # [C, 2] welded vertex ids
    loops: list[Loop] = field(default_factory=list)
    loop_of_vertex: np.ndarray | None = None  # [W] loop id of a boundary vertex (largest radius), -1 elsewhere

    def contact_matrix(self, n_parts: int) -> np.ndarray:
        """[P, P] total cut-edge length between each pair of parts (symmetric)."""
        c = np.zeros((n_parts, n_parts))
        for lp in self.loops:
            p, q = lp.parts
            c[p, q] += lp.length
            c[q, p] += lp.length
        return c


def find_contacts(vertices: np.ndarray, faces: np.ndarray, labels: np.ndarray) -> Contacts:
    """Cut edges and boundary loops of a labelled (welded) mesh.

    vertices: [W, 3]; faces: [F, 3]; labels: [W] (-1 = unlabelled; edges touching those are not cut).
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    lab = np.asarray(labels, dtype=np.int64)
    W = len(v)
    edges, inv = unique_edges(f, W, return_inverse=True)  # [E, 2], [F, 3]
    la, lb = lab[edges[:, 0]], lab[edges[:, 1]]
    cut = (la != lb) & (la >= 0) & (lb >= 0)
    out = Contacts(edges[cut], [], np.full(W, -1, dtype=np.int64))
    if not cut.any():
        return out
    cut_id = np.full(len(edges), -1)
    cut_id[cut] = np.arange(int(cut.sum()))
    ce = edges[cut]
    pa, pb = np.minimum(lab[ce[:, 0]], lab[ce[:, 1]]), np.maximum(lab[ce[:, 0]], lab[ce[:, 1]])
    nP = int(lab.max()) + 1
    pair = pa * nP + pb
    # link cut edges of the same pair that share a face
    rows, cols = [], []
    for a, b in ((0, 1), (1, 2), (0, 2)):
        ea, eb = cut_id[inv[:, a]], cut_id[inv[:, b]]
        ok = (ea >= 0) & (eb >= 0)
        ea, eb = ea[ok], eb[ok]
        same = pair[ea] == pair[eb]
        rows.append(ea[same])
        cols.append(eb[same])
    n = len(ce)
    r, c = np.concatenate(rows), np.concatenate(cols)
    nl, comp = edge_components(n, (r, c))
    mid = 0.5 * (v[ce[:, 0]] + v[ce[:, 1]])
    ln = np.linalg.norm(v[ce[:, 0]] - v[ce[:, 1]], axis=1)
    order = np.argsort(comp, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(comp[order])) + 1, n]
    radius_of_vertex = np.full(W, -1.0)
    for li in range(nl):
        idx = order[starts[li]:starts[li + 1]]
        w = ln[idx] + 1e-300
        cen = (mid[idx] * w[:, None]).sum(0) / w.sum()
        rad = float((np.linalg.norm(mid[idx] - cen, axis=1) * w).sum() / w.sum())
        vs = np.unique(ce[idx].ravel())
        e0 = idx[0]
        out.loops.append(Loop((int(pa[e0]), int(pb[e0])), vs, cen, rad, float(ln[idx].sum())))
        better = rad > radius_of_vertex[vs]
        radius_of_vertex[vs[better]] = rad
        out.loop_of_vertex[vs[better]] = li
    return out


def part_proximity(vertices: np.ndarray, labels: np.ndarray, n_parts: int, radius: float) -> np.ndarray:
    """[P, P] number of vertex pairs of different parts closer than ``radius`` (for disconnected sub-meshes)."""
    from scipy.spatial import cKDTree
    v = np.asarray(vertices, dtype=np.float64)
    lab = np.asarray(labels)
    keep = lab >= 0
    vi = np.flatnonzero(keep)
    tree = cKDTree(v[vi])
    pairs = tree.query_pairs(radius, output_type="ndarray")
    out = np.zeros((n_parts, n_parts))
    if len(pairs):
        a, b = lab[vi[pairs[:, 0]]], lab[vi[pairs[:, 1]]]
        d = a != b
        np.add.at(out, (a[d], b[d]), 1.0)
        np.add.at(out, (b[d], a[d]), 1.0)
    return out
