"""Evaluation of registration + texture propagation on marching-cubed clips of the shared animated characters.

Inputs (ShapeGen4D's output type, built from ground truth): each frame of a baked glTF clip is made watertight by a
signed distance (sign from the generalised winding number, so open and self-intersecting character meshes work) and
marching-cubed at ``res``^3 over the sequence's bounding box (``skimage.measure.marching_cubes``): unrelated topology
per frame. Variants: ``"clean"``; ``"similarity"`` (a random similarity per frame: yaw up to +-``yaw_deg``, tilt up to
+-``tilt_deg``, scale in [1/``max_scale``, ``max_scale``], shift up to ``shift`` x diagonal); ``"noise"`` (vertex noise
of ``noise`` x diagonal + quadric decimation to ``decimate`` of the faces).

Metrics against the true animation, in % of the frame-0 bbox diagonal (in each frame's own, possibly transformed,
coordinates):

* shape: Chamfer (sum of unsquared means, :mod:`.shape_metrics`) and F-score at 1 % of the diagonal of the
  registered meshes vs the true surface, next to the same for the raw marching-cubed meshes;
* drift: each template vertex bound to its closest true surface point at frame 0 (face + barycentrics) and carried by
  the true animation; e(t) = || v_reg(t) - p_gt(t) ||; reported at the last frame and as the mean over t;
* UV error (textured inputs): template uvs transferred from the true frame-0 mesh; at each frame the true uv at the
  registered vertex's closest true surface point vs the template uv, x texture size, in texels (mean and median);
  vertices of triangles that straddle a UV seam are counted too. This raw number reads the uv on the wrong side of
  a seam for a vertex that sits on it (hundreds of texels for a surface point a few texels away):
  :func:`uv_error_breakdown` splits it into same-chart / seam / fold vertices and gives the seam-aware error (the
  surface distance the texture lookup misses by, in texels at the local density); ``uv_split_*``: the same
  registration with the template's uvs propagated *with seams* (``registration.texture.propagate_uv_seams``), and
  :func:`smeared_faces_pct`, the faces whose texture is interpolated across the atlas.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core import Mesh, MeshFrames, MeshSequence


# ----------------------------------------------------------------------------------------------- watertight MC
def watertight_mc(v: np.ndarray, f: np.ndarray, lo: np.ndarray, hi: np.ndarray, res: int, band: float = 2.0,
                  n_samples: int | None = None) -> Mesh:
    """Watertight remesh of (v, f): signed distance on a res^3 grid over [lo, hi] -> marching cubes at level 0.

    Narrow band: exact point-to-triangle distances only within ``band`` voxels of the surface (voxels holding one of
    the dense surface samples, dilated); the sign from the fast winding number there, and once per connected region outside the band.
    """
    import igl
    from scipy import ndimage
    from skimage.measure import marching_cubes

    from ..registration.kernels import sample_surface
    h = (hi - lo) / (res - 1)
    vox = float(h.max())
    rng = np.random.default_rng(0)
    area = np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1).sum() / 2
    n = n_samples or int(min(4e6, max(2e5, 8 * area / (vox * vox))))
    pts = np.r_[v, sample_surface(v, f, n, rng)[0]]
    g = [lo[i] + np.arange(res) * h[i] for i in range(3)]
    q = np.stack(np.meshgrid(*g, indexing="ij"), -1).reshape(-1, 3)
    # voxels holding a surface sample, dilated by the band: the only places that need exact distances
    ijk = np.clip(np.round((pts - lo) / h).astype(np.int64), 0, res - 1)
    occ = np.zeros((res, res, res), bool)
    occ[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = True
    near = ndimage.binary_dilation(occ, iterations=int(np.ceil(band))).reshape(-1)
    sdf = np.full(len(q), np.inf)
    vv, ff = np.ascontiguousarray(v, np.float64), np.ascontiguousarray(f, np.int64)
    qn = q[near]
    d2 = igl.point_mesh_squared_distance(qn, vv, ff)[0]
    w = igl.fast_winding_number(vv, ff, qn)
    sdf[near] = np.where(w > 0.5, -1.0, 1.0) * np.sqrt(d2)
    far = ~near.reshape(res, res, res)
    lab, nl = ndimage.label(far)
    if nl:
        first = ndimage.find_objects(lab)
        reps = []
        for k, sl in enumerate(first):
            idx = np.argwhere(lab[sl] == k + 1)[0] + [s.start for s in sl]
            reps.append(idx)
        reps = np.array(reps)
        wr = igl.fast_winding_number(vv, ff, lo + reps * h)
        sign = np.where(wr > 0.5, -1.0, 1.0)
        flat = lab.reshape(-1)
        sdf[~near] = sign[flat[~near] - 1] * (band + 1) * vox  # beyond the band: only the sign matters
    vol = sdf.reshape(res, res, res)
    verts, faces, _, _ = marching_cubes(vol, level=0.0, spacing=tuple(h.tolist()), method="lewiner")
    # skimage orients triangles for increasing values outward (our sdf > 0 outside): flip to outward normals
    return Mesh(verts + lo, faces[:, ::-1].astype(np.int64))


def _cache_dir() -> Path:
    d = Path(os.environ.get("ARTICULATE_CACHE", Path.home() / ".cache" / "articulate")) / "mc_clips"
    d.mkdir(parents=True, exist_ok=True)
    return d


@dataclass
class Clip:
    """A ground-truth clip and its marching-cubed frames (one per variant)."""

    gt: MeshSequence  # true vertices [T, V, 3] (+ faces, uvs) in each frame's own coordinates
    frames: MeshFrames  # the raw per-frame meshes the registration sees
    transforms: list  # per-frame Similarity applied to the truth (identity for "clean")
    variant: str
    res: int


def build_clip(asset_path, clip: str | None = None, *, frames: int = 48, res: int = 128, variant: str = "clean",
               yaw_deg: float = 25.0, tilt_deg: float = 8.0, max_scale: float = 1.2, shift: float = 0.1,
               noise: float = 0.003, decimate: float = 0.5, seed: int = 0, cache: bool = True, stride: int = 1) -> Clip:
    """Bake ``clip`` of a rigged glTF (``frames`` frames, every ``stride``-th), remesh every frame at ``res``^3 and
    apply ``variant``. Marching-cubed frames are cached under ``$ARTICULATE_CACHE/mc_clips``."""
    from ..io.sequence import load_gltf_clip
    from ..registration.rigid import Similarity, _rot
    gt = load_gltf_clip(asset_path, clip)
    idx = np.arange(0, gt.n_frames, stride)[:frames]
    V = gt.vertices[idx]
    lo, hi = gt.vertices.reshape(-1, 3).min(0), gt.vertices.reshape(-1, 3).max(0)  # the whole clip: cache-stable
    pad = 0.03 * (hi - lo).max()
    lo, hi = lo - pad, hi + pad
    meshes = []
    for t, fi in enumerate(idx):  # cached per frame (float32 / int32)
        key = hashlib.sha1(f"{Path(asset_path).name}|{gt.clip}|{int(fi)}|{res}|{lo.round(6).tolist()}|"
                           f"{hi.round(6).tolist()}|v3".encode()).hexdigest()[:16]
        cpath = _cache_dir() / f"{key}.npz"
        if cache and cpath.exists():
            z = np.load(cpath)
            meshes.append(Mesh(z["v"].astype(np.float64), z["f"].astype(np.int64)))
            continue
        m = watertight_mc(V[t], gt.faces, lo, hi, res)
        if cache:
            np.savez_compressed(cpath, v=m.vertices.astype(np.float32), f=m.faces.astype(np.int32))
        meshes.append(m)
    rng = np.random.default_rng(seed)
    diag = float(np.linalg.norm(V[0].max(0) - V[0].min(0)))
    c = V[0].mean(0)
    transforms = []
    out_meshes, gt_v = [], []
    for t, m in enumerate(meshes):
        T = Similarity.identity()
        mv, mf = m.vertices, m.faces
        if variant == "noise":
            import igl
            mv = mv + rng.normal(0, noise * diag, mv.shape)
            if decimate < 1:
                res_ = igl.decimate(np.asfortranarray(mv), np.asfortranarray(mf, np.int32), int(decimate * len(mf)))
                U, G = (res_[1], res_[2]) if len(res_) == 5 else (res_[0], res_[1])  # (ok, U, G, J, I) in older igl
                mv, mf = np.asarray(U, np.float64), np.asarray(G, np.int64)
        if variant == "similarity" and t > 0:
            R = _rot(1, np.deg2rad(rng.uniform(-yaw_deg, yaw_deg))) @ _rot(2, np.deg2rad(rng.uniform(-tilt_deg, tilt_deg)))
            s = float(np.exp(rng.uniform(-np.log(max_scale), np.log(max_scale))))
            tr = rng.uniform(-shift, shift, 3) * diag
            T = Similarity(s, R, c - s * R @ c + tr)
            mv = T.apply(mv)
        transforms.append(T)
        out_meshes.append(Mesh(mv, mf, name=f"frame {t}"))
        gt_v.append(T.apply(V[t]))
    seqgt = MeshSequence(np.stack(gt_v), gt.faces, gt.fps / stride, gt.name, gt.source, gt.clip, uvs=gt.uvs)
    return Clip(seqgt, MeshFrames(out_meshes, seqgt.fps, gt.name, gt.source), transforms, variant, res)


# ----------------------------------------------------------------------------------------------- metrics
def drift_curve(reg: MeshSequence, gt: MeshSequence, diag: float) -> np.ndarray:
    """e(t) per template vertex: its closest true surface point at frame 0 (face + barycentrics) carried by the
    true animation, distance to the registered vertex -> [T, V] in % of ``diag``."""
    from ..registration.kernels import closest_points_on_mesh
    _, fi, b, _ = closest_points_on_mesh(reg.vertices[0], gt.vertices[0], gt.faces)
    tri = gt.faces[fi]
    p = (gt.vertices[:, tri] * b[None, :, :, None]).sum(2)  # [T, V, 3]
    return 100 * np.linalg.norm(reg.vertices - p, axis=-1) / diag


def drift_components(reg: MeshSequence, gt: MeshSequence, diag: float, frames) -> dict:
    """The drift vector (registered vertex - its carried frame-0 binding) split along the true surface normal at the
    binding and within the tangent plane, mean over ``frames`` and vertices, in % of ``diag``. Geometry-only terms
    (Chamfer, point-to-plane) see the normal part; sliding within the surface is invisible to them."""
    from ..registration.kernels import closest_points_on_mesh
    _, fi, b, _ = closest_points_on_mesh(reg.vertices[0], gt.vertices[0], gt.faces)
    tri = gt.faces[fi]
    nt, tt = [], []
    for t in frames:
        p = (gt.vertices[t][tri] * b[..., None]).sum(1)
        fv = gt.vertices[t][tri]
        n = np.cross(fv[:, 1] - fv[:, 0], fv[:, 2] - fv[:, 0])
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20)
        e = reg.vertices[t] - p
        en = (e * n).sum(1)
        nt.append(np.abs(en))
        tt.append(np.linalg.norm(e - en[:, None] * n, axis=1))
    nt, tt = np.stack(nt), np.stack(tt)
    return {"normal_mean_pct": float(100 * nt.mean() / diag), "tangential_mean_pct": float(100 * tt.mean() / diag),
            "tangential_last_mean_pct": float(100 * tt[-1].mean() / diag),
            "normal_last_mean_pct": float(100 * nt[-1].mean() / diag)}


def uv_error_texels(reg: MeshSequence, gt: MeshSequence, tex_size: int, frames=None) -> np.ndarray:
    """|uv_template - uv_true(closest true point at t)| x tex_size per vertex and frame -> [len(frames), V]."""
    from ..registration.kernels import closest_points_on_mesh
    frames = range(reg.n_frames) if frames is None else frames
    out = []
    for t in frames:
        _, fi, b, _ = closest_points_on_mesh(reg.vertices[t], gt.vertices[t], gt.faces)
        uv_true = (gt.uvs[gt.faces[fi]] * b[..., None]).sum(1)
        out.append(np.linalg.norm(reg.uvs - uv_true, axis=1) * tex_size)
    return np.stack(out)


def texel_density(v: np.ndarray, f: np.ndarray, uvs: np.ndarray, tex_size: int) -> np.ndarray:
    """Texels per unit length on each face [F]: sqrt(uv area x tex^2 / 3-D area)."""
    a3 = 0.5 * np.linalg.norm(np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]), axis=1)
    e1, e2 = uvs[f[:, 1]] - uvs[f[:, 0]], uvs[f[:, 2]] - uvs[f[:, 0]]
    auv = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    return np.sqrt(auv * tex_size ** 2 / np.maximum(a3, 1e-20))


def uv_error_breakdown(reg: MeshSequence, gt: MeshSequence, tex_size: int, frames=None, *,
                       fold_pct: float = 2.0, binding=None) -> dict:
    """Where the per-vertex UV error comes from, per frame in ``frames`` and vertex.

    For each registered vertex at frame t: ``p_c`` = its closest true surface point (face ``f_c``; what
    :func:`uv_error_texels` reads the true uv at) and ``p_b`` = its frame-0 binding carried by the true animation (face
    ``f_b``; the surface point whose uv the template holds, as in :func:`drift_curve`). Regions:

    * ``same_chart``: f_c and f_b in one UV chart -> the raw error is a real uv offset;
    * ``seam``: different charts, |p_c - p_b| <= ``fold_pct`` % of the diagonal -> the uv jumps across the atlas
      although the surface points are near (a seam: the texture shows the same colour on both sides);
    * ``fold``: |p_c - p_b| > ``fold_pct`` % -> the closest true point is another part of the body (armpit, crotch,
      between the legs: the closest-point read is ambiguous across folds).

    ``seam_aware`` error: the same-chart uv distance where it exists, else the surface distance |p_c - p_b| x the
    texel density of f_b (texels per unit length) -- what a texture lookup misses by, seams and folds included.
    ``binding``: (face [V], bary [V, 3]) of the true frame-0 point whose uv each vertex holds, when that is not its
    closest point (uvs propagated with seams); default: the closest point at frame 0.
    """
    from ..registration.kernels import closest_points_on_mesh
    from ..registration.texture import uv_charts
    frames = range(reg.n_frames) if frames is None else frames
    diag = float(np.linalg.norm(gt.vertices[0].max(0) - gt.vertices[0].min(0)))
    chart = uv_charts(gt.faces, gt.n_vertices)
    if binding is None:
        _, fb, bb, _ = closest_points_on_mesh(reg.vertices[0], gt.vertices[0], gt.faces)
    else:
        fb, bb = binding
    dens = texel_density(gt.vertices[0], gt.faces, gt.uvs, tex_size)
    raw, aware, region = [], [], []
    for t in frames:
        _, fc, bc, _ = closest_points_on_mesh(reg.vertices[t], gt.vertices[t], gt.faces)
        uv_c = (gt.uvs[gt.faces[fc]] * bc[..., None]).sum(1)
        pc = (gt.vertices[t][gt.faces[fc]] * bc[..., None]).sum(1)
        pb = (gt.vertices[t][gt.faces[fb]] * bb[..., None]).sum(1)
        e_raw = np.linalg.norm(reg.uvs - uv_c, axis=1) * tex_size
        d = np.linalg.norm(pc - pb, axis=1)
        same = chart[fc] == chart[fb]
        fold = ~same & (100 * d / diag > fold_pct)
        raw.append(e_raw)
        aware.append(np.where(same, e_raw, d * dens[fb]))
        region.append(np.where(same, 0, np.where(fold, 2, 1)))
    raw, aware, region = np.stack(raw), np.stack(aware), np.stack(region)
    out = {"raw_mean": float(raw.mean()), "raw_median": float(np.median(raw)),
           "seam_aware_mean": float(aware.mean()), "seam_aware_median": float(np.median(aware)),
           "seam_aware_over_16_pct": float(100 * (aware > 16).mean()), "texels_per_pct_diag": float(
               np.median(dens) * diag / 100)}
    n = raw.size
    for k, name in enumerate(("same_chart", "seam", "fold")):
        m = region == k
        out[name] = {"share_pct": float(100 * m.sum() / n),
                     "raw_mean": float(raw[m].mean()) if m.any() else 0.0,
                     "raw_share_of_total_pct": float(100 * raw[m].sum() / max(raw.sum(), 1e-12)),
                     "seam_aware_mean": float(aware[m].mean()) if m.any() else 0.0}
    return out


def shape_scores(meshes: list[Mesh], gt: MeshSequence, diag: float, frames, n: int = 30000):
    from .shape_metrics import chamfer, fscore, sample_points
    cd, fs = [], []
    for t in frames:
        a = sample_points(meshes[t], n, seed=t)
        g = sample_points(Mesh(gt.vertices[t], gt.faces), n, seed=10_000 + t)
        cd.append(100 * chamfer(a, g) / diag)
        fs.append(fscore(a, g, 0.01 * diag))
    return float(np.mean(cd)), float(np.mean(fs))


def smeared_faces_pct(m: Mesh, clip: Clip, tex_size: int, factor: float = 10.0) -> float:
    """% of the template's faces whose uv extent is over ``factor`` x what their 3-D size at the local texel density
    predicts (texture interpolated across the atlas: a seam-straddling face of per-vertex uvs, or a face whose corners
    read two sheets of the source that lie within a voxel)."""
    from ..registration.kernels import closest_points_on_mesh
    gt = clip.gt
    dens = texel_density(gt.vertices[0], gt.faces, gt.uvs, tex_size)
    _, fc, _, _ = closest_points_on_mesh(m.vertices[m.faces].mean(1), gt.vertices[0], gt.faces)
    uv, fv = m.uvs[m.faces] * tex_size, m.vertices[m.faces]
    su = np.max(np.linalg.norm(uv[:, [0, 1, 2]] - uv[:, [1, 2, 0]], axis=-1), 1)
    sv = np.max(np.linalg.norm(fv[:, [0, 1, 2]] - fv[:, [1, 2, 0]], axis=-1), 1)
    return float(100 * (su > factor * sv * dens[fc]).mean())


def evaluate_registration(clip: Clip, reg: MeshSequence, report: dict, *, tex_size: int | None = None,
                          n_eval_frames: int = 8, split_seams: bool = True) -> dict:
    """The table row for one registration run (see the module docstring)."""
    T = clip.gt.n_frames
    diag = float(np.linalg.norm(clip.gt.vertices[0].max(0) - clip.gt.vertices[0].min(0)))
    ev = np.unique(np.round(np.linspace(0, T - 1, min(n_eval_frames, T))).astype(int))
    reg_meshes = [Mesh(v, reg.faces) for v in reg.vertices]
    cd_reg, f_reg = shape_scores(reg_meshes, clip.gt, diag, ev)
    cd_raw, f_raw = shape_scores(clip.frames.frames, clip.gt, diag, ev)
    e = drift_curve(reg, clip.gt, diag)
    row = {"variant": clip.variant, "res": clip.res, "mode": report["mode"], "frames": T, "template_vertices":
           reg.n_vertices, "chamfer_reg_pct": cd_reg, "chamfer_raw_pct": cd_raw, "chamfer_ratio": cd_reg / cd_raw,
           "fscore_reg": f_reg, "fscore_raw": f_raw, "drift_last_mean_pct": float(e[-1].mean()),
           "drift_last_median_pct": float(np.median(e[-1])), "drift_mean_over_t_pct": float(e.mean()),
           "drift_frame0_pct": float(e[0].mean()), "seconds_per_frame": report["seconds_per_frame"],
           "drift_components": drift_components(reg, clip.gt, diag, ev)}
    if tex_size and reg.uvs is not None and clip.gt.uvs is not None:
        u = uv_error_texels(reg, clip.gt, tex_size, ev)
        row.update({"uv_err_mean_texels": float(u.mean()), "uv_err_median_texels": float(np.median(u)),
                    "uv_err_last_mean_texels": float(u[-1].mean()), "uv_over_16_texels_pct": float(100 * (u > 16).mean())})
        b = uv_error_breakdown(reg, clip.gt, tex_size, ev)
        row.update({"uv_seam_aware_mean_texels": b["seam_aware_mean"], "uv_seam_aware_median_texels":
                    b["seam_aware_median"], "uv_breakdown": b,
                    "uv_smeared_faces_pct": smeared_faces_pct(Mesh(reg.vertices[0], reg.faces, uvs=reg.uvs), clip, tex_size)})
        if split_seams:  # the same registration with the template's uvs re-propagated with seams
            from ..registration.texture import split_sequence_seams
            src = Mesh(clip.gt.vertices[0], clip.gt.faces, uvs=clip.gt.uvs)
            sp, bf, bb = split_sequence_seams(reg, src)
            bs = uv_error_breakdown(sp, clip.gt, tex_size, ev, binding=(bf, bb))
            row.update({"split_vertices": sp.n_vertices, "uv_split_seam_aware_mean_texels": bs["seam_aware_mean"],
                        "uv_split_seam_aware_median_texels": bs["seam_aware_median"], "uv_split_raw_mean_texels":
                        bs["raw_mean"], "uv_split_smeared_faces_pct": smeared_faces_pct(
                            Mesh(sp.vertices[0], sp.faces, uvs=sp.uvs), clip, tex_size)})
    return row


def template_with_true_uvs(clip: Clip) -> Mesh:
    """Frame 0's marching-cubed mesh with uvs transferred from the true frame-0 mesh (closest point + barycentric)."""
    from ..registration.texture import propagate_uv
    m0 = clip.frames.frames[0]
    return propagate_uv(Mesh(clip.gt.vertices[0], clip.gt.faces, uvs=clip.gt.uvs), m0)


def run(asset_path, clip=None, *, frames=48, res=128, variant="clean", modes=("template", "chain"), config=None,
        tex_size=None, stride=1, seed=0):
    """Build a clip and register it in each mode -> list of table rows (+ the registered sequences)."""
    from ..registration import RegistrationConfig, register_frames
    from dataclasses import replace
    c = build_clip(asset_path, clip, frames=frames, res=res, variant=variant, stride=stride, seed=seed)
    tmpl = template_with_true_uvs(c) if c.gt.uvs is not None else c.frames.frames[0]
    frames_in = MeshFrames([tmpl] + c.frames.frames[1:], c.frames.fps, c.frames.name, c.frames.source)
    rows, seqs = [], {}
    for mode in modes:
        cfg = replace(config or RegistrationConfig(), mode=mode)
        t0 = time.perf_counter()
        seq, rep = register_frames(frames_in, cfg)
        rows.append(evaluate_registration(c, seq, rep, tex_size=tex_size) | {"asset": Path(asset_path).stem,
                                                                             "wall_s": time.perf_counter() - t0})
        seqs[mode] = seq
    return rows, seqs, c
