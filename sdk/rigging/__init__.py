"""Rigging from parts: skeleton, harmonic (SP4D §3.4) or bone-heat (Pinocchio) weights, engine budgets.

Single entry point: :func:`rig_from_parts`.
"""
from __future__ import annotations

import numpy as np

from ..core import Mesh, PartLabels, Rig
from ..errors import InvalidInputError

from .methods import DEFAULT_METHOD, SKINNING, SkinningInput

METHODS = SKINNING.names()  # ("harmonic", "pairwise", "heat"); DEFAULT_METHOD = "pairwise"


def _weld_labels(vmap: np.ndarray, labels: np.ndarray, n_welded: int) -> np.ndarray:
    """Majority label of the original vertices merged into each welded vertex (-1 only if all are -1)."""
    import scipy.sparse as sp
    lab = np.asarray(labels, dtype=np.int64)
    ok = lab >= 0
    out = np.full(n_welded, -1, dtype=np.int64)
    if not ok.any():
        return out
    P = int(lab[ok].max()) + 1
    cnt = sp.coo_matrix((np.ones(int(ok.sum())), (vmap[ok], lab[ok])), shape=(n_welded, P)).tocsr()
    has = np.diff(cnt.indptr) > 0
    out[has] = np.asarray(cnt[has].argmax(axis=1)).ravel()
    return out


def rig_from_parts(mesh: Mesh, parts, method: str = DEFAULT_METHOD, max_influences: int = 4,
                   max_bones: int | None = None, root: int | str | None = None, quantize_bits: int | None = None,
                   progress: "ProgressFn | None" = None, *, blend: float | None = None, unassigned: str = "error",
                   weld_tol: float | None = None, source: str | None = None) -> Rig:
    """Rig a mesh from per-vertex part labels.

    mesh: Mesh with vertices [V, 3] and faces [F, 3] (triangle soups are welded by position).
    parts: PartLabels or an int array [V] (-1 = unlabelled).
    method: "harmonic" (SP4D §3.4, Laplace with part-indicator Dirichlet data outside a blend
      band of ``blend`` boundary radii), "pairwise" (one boundary-value problem per skeleton joint:
      a part blends only with its skeleton neighbours, ``sdk.rigging.pairwise``) or "heat"
      (Pinocchio bone heat with visibility).
    max_influences: influences kept per vertex (top-k, renormalized). max_bones: merge parts by
      contact until at most this many joints. root: root part (index or name; default most
      central). quantize_bits: 8 or 16 for weights that are exact multiples of 1/(2^bits - 1)
      with exact unit sums. progress: optional callback(fraction, message).
    blend: transition half-width in boundary-loop radii for "harmonic" / "pairwise" (default: the
      method's own, ``harmonic.DEFAULT_BLEND`` / ``pairwise.DEFAULT_PAIR_BLEND``, tuned on held-in
      assets; 0 = hard parts).
    unassigned: components with no labelled vertex -> "error" (names the component) or "nearest".
    Returns a Rig (one joint per part; ``joint_parts[j]`` = the part driven by joint j).
    """
    from .budget import check_budget, limit_weights, merge_parts
    from .contacts import find_contacts
    from .harmonic import attach_unassigned
    from ..geometry.laplacian import mass_matrix
    from ..geometry.weld import weld
    from .skeleton_from_parts import part_graph, skeleton_from_parts

    from ..util.progress import report as _report
    from ..util.progress import sub as _sub

    def report(frac, msg):
        _report(progress, frac, msg)

    skinning = SKINNING.get(method)  # InvalidInputError naming the registered methods
    if unassigned not in ("error", "nearest"):
        raise InvalidInputError(f"unassigned must be 'error' or 'nearest', got {unassigned!r}", field="unassigned")
    check_budget(max_influences, max_bones, quantize_bits)
    if blend is not None:  # None: the method's own default (harmonic: DEFAULT_BLEND, pairwise: DEFAULT_PAIR_BLEND)
        try:
            blend = float(blend)
        except (TypeError, ValueError):
            raise InvalidInputError(f"blend must be a finite number >= 0, got {blend!r}", field="blend") from None
        if not np.isfinite(blend) or blend < 0:
            raise InvalidInputError(f"blend must be a finite number >= 0, got {blend}", field="blend")
    report(0.0, "validating")
    work = Mesh(np.asarray(mesh.vertices, dtype=np.float64), np.array(mesh.faces, dtype=np.int64), name=mesh.name)
    work = work.validate(source)
    if not isinstance(parts, PartLabels):
        parts = PartLabels(np.asarray(parts))
    parts.validate(work.n_vertices, source)
    names = list(parts.names)

    report(0.05, "welding")
    wm = weld(work.vertices, work.faces, weld_tol)
    wlab = _weld_labels(wm.vmap, parts.labels, wm.n_vertices)
    wlab = attach_unassigned(wm.vertices, wm.faces, wlab, unassigned, vertex_names=_first_original(wm.vmap, wm.n_vertices))
    # parts that lost all their vertices to majority voting at welded seams
    present = np.bincount(wlab[wlab >= 0], minlength=len(names)) > 0
    if not present.all():
        keep = np.flatnonzero(present)
        remap = np.full(len(names), -1)
        remap[keep] = np.arange(len(keep))
        wlab = np.where(wlab >= 0, remap[np.maximum(wlab, 0)], -1)
        names = [names[k] for k in keep]
    report(0.1, "part contacts")
    contacts = find_contacts(wm.vertices, wm.faces, wlab)
    if max_bones is not None and len(names) > max_bones:
        area = mass_matrix(wm.vertices, wm.faces, wm.n_vertices)
        size = np.bincount(wlab[wlab >= 0], weights=area[wlab >= 0], minlength=len(names))
        g0 = part_graph(wm.vertices, wm.faces, wlab, len(names), contacts)
        wlab, names, _ = merge_parts(wlab, names, g0.weights, int(max_bones), size=size)
        contacts = find_contacts(wm.vertices, wm.faces, wlab)
    P = len(names)
    report(0.2, "skeleton")
    skeleton, joint_parts = skeleton_from_parts(wm.vertices, wm.faces, wlab, names, root, contacts)
    report(0.3, f"{method} weights")

    inp = SkinningInput(wm.vertices, wm.faces, wlab, P, skeleton, joint_parts, contacts)
    method_cfg = skinning.config(blend)
    Wp = skinning.weights(inp, method_cfg, _sub(progress, 0.3, 0.9))  # [W, P]
    Wj = Wp[:, joint_parts]  # [W, J]
    report(0.92, "budget")
    skin = limit_weights(Wj[wm.vmap], max_influences, quantize_bits)
    labels_out = wlab[wm.vmap]
    rig = Rig(mesh, skeleton, skin, parts=PartLabels(labels_out, names), joint_parts=joint_parts,
              metadata={"method": method, "blend": float(method_cfg.blend) if skinning.uses_blend else None,
                        "max_influences": int(max_influences), "quantize_bits": quantize_bits,
                        "welded_vertices": int(wm.n_vertices)})
    report(1.0, "done")
    return rig.validate()


def _first_original(vmap: np.ndarray, n: int) -> np.ndarray:
    first = np.full(n, -1, dtype=np.int64)
    idx = np.arange(len(vmap))[::-1]
    first[vmap[::-1]] = idx
    return first


__all__ = ["rig_from_parts", "METHODS", "DEFAULT_METHOD"]
