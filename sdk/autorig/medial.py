"""Discretized medial surface of a closed-ish mesh: a voxel interior, its distance field, and packed spheres.

Pinocchio (Baran & Popovic 2007, §3) packs spheres centred on an approximate medial surface and connects
spheres whose union contains the segment between them; the embedding then runs on that graph. Here:

1. Interior: voxel centres with generalized winding number > 0.5 (libigl fast winding number; robust to
   holes, self-intersections and overlapping pieces such as clothing over a body).
2. Distance field: Euclidean distance transform of the interior (distance to the nearest outside voxel).
3. Medial samples: the voxel thinning of the interior (Lee et al. 1994, scikit-image ``skeletonize``) --
   a curve-like subset of the medial surface whose connectivity follows the shape's topology. (Pinocchio
   samples the full medial surface; a thinned one is a cheaper graph that keeps the branches we embed into.)
4. Sphere packing: medial samples in decreasing radius order; a sample becomes a sphere centre unless it
   lies within ``packing`` x the larger radius of an accepted centre (Pinocchio packs greedily too).
5. Graph: two spheres are adjacent when medial samples they own are 26-neighbours; edge length = distance.
   Disconnected pieces are joined at their closest centres, so the graph is always connected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class MedialConfig:
    resolution: int = 72  # voxels along the longest bbox side (ours; Pinocchio uses an octree)
    packing: float = 0.5  # a centre rejects samples within packing * radius (ours)
    min_spacing_voxels: float = 1.5  # ... and always within this many voxels (ours)


@dataclass
class MedialGraph:
    centers: np.ndarray  # [N, 3] sphere centres
    radii: np.ndarray  # [N] sphere radii (distance to the surface)
    adjacency: sp.csr_matrix  # [N, N] symmetric, entries = centre distances
    origin: np.ndarray  # [3] voxel grid origin (centre of voxel 0,0,0)
    step: float  # voxel size
    inside: np.ndarray  # [X, Y, Z] bool interior
    distance: np.ndarray  # [X, Y, Z] float distance to the outside

    def radius_at(self, points: np.ndarray) -> np.ndarray:
        """Distance field sampled (nearest voxel) at points [N, 3]."""
        idx = np.round((np.asarray(points) - self.origin) / self.step).astype(np.int64)
        idx = np.clip(idx, 0, np.array(self.distance.shape) - 1)
        return self.distance[idx[:, 0], idx[:, 1], idx[:, 2]]

    def is_inside(self, points: np.ndarray) -> np.ndarray:
        idx = np.round((np.asarray(points) - self.origin) / self.step).astype(np.int64)
        ok = ((idx >= 0) & (idx < np.array(self.inside.shape))).all(1)
        out = np.zeros(len(idx), dtype=bool)
        i = idx[ok]
        out[ok] = self.inside[i[:, 0], i[:, 1], i[:, 2]]
        return out


def interior_grid(vertices: np.ndarray, faces: np.ndarray, resolution: int):
    """(inside [X, Y, Z] bool, origin [3], step) by fast winding number on voxel centres."""
    import igl
    v = np.asarray(vertices, dtype=np.float64)
    lo, hi = v.min(0), v.max(0)
    step = float((hi - lo).max()) / max(resolution, 8)
    origin = lo - 1.5 * step
    shape = np.ceil((hi - origin) / step).astype(int) + 2
    axes = [origin[k] + step * np.arange(shape[k]) for k in range(3)]
    q = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    w = igl.fast_winding_number(v, np.asarray(faces, dtype=np.int64), q)
    inside = (np.abs(w) > 0.5).reshape(*shape)
    return inside, origin, step


def medial_graph(vertices: np.ndarray, faces: np.ndarray, config: MedialConfig | None = None) -> MedialGraph:
    """Packed medial spheres and their adjacency for a mesh (vertices [V, 3], faces [F, 3])."""
    from scipy.ndimage import distance_transform_edt
    from scipy.spatial import cKDTree
    from skimage.morphology import skeletonize
    cfg = config or MedialConfig()
    inside, origin, step = interior_grid(vertices, faces, cfg.resolution)
    if inside.sum() < 8:  # thin sheet / open surface: thicken by one voxel of the surface itself
        from scipy.ndimage import binary_dilation
        idx = np.round((np.asarray(vertices) - origin) / step).astype(np.int64)
        shell = np.zeros_like(inside)
        shell[idx[:, 0], idx[:, 1], idx[:, 2]] = True
        inside = inside | binary_dilation(shell)
    dist = distance_transform_edt(inside) * step
    skel = skeletonize(inside) > 0
    if skel.sum() == 0:
        skel = dist == dist.max()
    vox = np.argwhere(skel)  # [S, 3]
    r = dist[vox[:, 0], vox[:, 1], vox[:, 2]]
    pts = origin + vox * step
    order = np.argsort(-r, kind="stable")
    centers: list[int] = []
    # greedy packing: a sample is covered when it lies within packing*max(r_c, r_s) of an accepted centre
    covered = np.zeros(len(pts), dtype=bool)
    kd = cKDTree(pts)
    for i in order:
        if covered[i]:
            continue
        centers.append(int(i))
        rad = max(cfg.packing * r[i], cfg.min_spacing_voxels * step)
        covered[kd.query_ball_point(pts[i], rad)] = True
    C = pts[centers]
    R = r[centers]
    # owner of each medial sample: nearest centre along the thinned voxels (multi-source BFS on 26-nbrs)
    S = len(pts)
    nb = kd.query_pairs(np.sqrt(3) * step * 1.01, output_type="ndarray")
    A = sp.coo_matrix((np.ones(len(nb)), (nb[:, 0], nb[:, 1])), shape=(S, S)).tocsr()
    A = A + A.T
    owner = np.full(S, -1)
    owner[centers] = np.arange(len(centers))
    frontier = np.array(centers)
    while len(frontier):
        nxt = []
        rows = A[frontier]
        for k, f in enumerate(frontier):
            js = rows.indices[rows.indptr[k]:rows.indptr[k + 1]]
            free = js[owner[js] < 0]
            owner[free] = owner[f]
            nxt.extend(free.tolist())
        frontier = np.array(sorted(set(nxt)), dtype=np.int64)
    owner[owner < 0] = cKDTree(C).query(pts[owner < 0])[1] if (owner < 0).any() else owner[owner < 0]
    a, b = owner[nb[:, 0]], owner[nb[:, 1]]
    m = a != b
    N = len(C)
    E = sp.coo_matrix((np.ones(int(m.sum())), (a[m], b[m])), shape=(N, N)).tocsr()
    E = ((E + E.T) > 0).tocoo()
    L = np.linalg.norm(C[E.row] - C[E.col], axis=1)
    adj = sp.coo_matrix((L, (E.row, E.col)), shape=(N, N)).tocsr()
    adj = _connect(adj, C)
    return MedialGraph(C, R, adj, origin, step, inside, dist)


def _connect(adj: sp.csr_matrix, C: np.ndarray) -> sp.csr_matrix:
    """Join connected components at their closest centre pairs (largest component first)."""
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree
    n, lab = connected_components(adj, directed=False)
    adj = adj.tolil()
    while n > 1:
        sizes = np.bincount(lab)
        big = int(np.argmax(sizes))
        ins, out = np.flatnonzero(lab == big), np.flatnonzero(lab != big)
        d, nn = cKDTree(C[ins]).query(C[out])
        k = int(np.argmin(d))
        i, j = int(ins[nn[k]]), int(out[k])
        adj[i, j] = adj[j, i] = max(float(d[k]), 1e-9)
        n, lab = connected_components(adj.tocsr(), directed=False)
    return adj.tocsr()


def graph_path(adj: sp.csr_matrix, src: int, dst: int, pred: np.ndarray | None = None) -> list[int]:
    """Shortest path node list from src to dst."""
    from scipy.sparse.csgraph import dijkstra
    if pred is None:
        _, pred = dijkstra(adj, directed=False, indices=src, return_predecessors=True)
    path = [int(dst)]
    while path[-1] != src:
        p = int(pred[path[-1]])
        if p < 0:
            break
        path.append(p)
    return path[::-1]
