"""UV seams in texture propagation and in the UV error: charts, seam-split propagation, the seam-aware error."""
import numpy as np

from sdk.core import Mesh, MeshSequence
from sdk.registration import propagate_uv, propagate_uv_seams, uv_charts


def _grid(nx, ny, x0=0.0, x1=1.0):
    xs, ys = np.linspace(x0, x1, nx), np.linspace(0, 1, ny)
    v = np.stack(np.meshgrid(xs, ys, indexing="ij"), -1).reshape(-1, 2)
    f = []
    for i in range(nx - 1):
        for j in range(ny - 1):
            a, b, c, d = i * ny + j, (i + 1) * ny + j, (i + 1) * ny + j + 1, i * ny + j + 1
            f += [[a, b, c], [a, c, d]]
    return np.c_[v, np.zeros(len(v))], np.array(f)


def _seam_source():
    """A unit square in two charts split at x = 0.5 (vertices duplicated there, glTF style); chart A maps x in
    [0, 0.5] to u in [0, 0.25], chart B maps x in [0.5, 1] to u in [0.75, 1.0] (the atlas jumps at the seam)."""
    va, fa = _grid(6, 11, 0.0, 0.5)
    vb, fb = _grid(6, 11, 0.5, 1.0)
    v = np.r_[va, vb]
    f = np.r_[fa, fb + len(va)]
    uv = np.r_[np.c_[va[:, 0] * 0.5, va[:, 1]], np.c_[0.75 + (vb[:, 0] - 0.5) * 0.5, vb[:, 1]]]
    return Mesh(v, f, uvs=uv.astype(np.float32)), len(va)


def _true_uv(x, chart):
    return np.where(chart == 0, x * 0.5, 0.75 + (x - 0.5) * 0.5)


def test_charts_and_seam_split_propagation():
    src, na = _seam_source()
    ch = uv_charts(src.faces, src.n_vertices)
    assert len(np.unique(ch)) == 2 and (ch[: len(src.faces) // 2] == ch[0]).all()
    v, f = _grid(14, 9)  # another triangulation whose vertices do not fall on the seam
    dst = Mesh(v + [0.003, 0, 0], f)
    per_vertex = propagate_uv(src, dst)
    span = lambda m: np.ptp(m.uvs[m.faces][..., 0], axis=1)  # noqa: E731
    assert (span(per_vertex) > 0.3).sum() >= 8  # faces straddling the seam interpolate across the atlas
    split, idx, bf, bb = propagate_uv_seams(src, dst)
    assert split.n_vertices > dst.n_vertices and np.allclose(split.vertices, dst.vertices[idx])
    assert span(split).max() < 0.1  # no face interpolates across the atlas any more
    # every copy holds its chart's uv at its own position (chart A's line continued past the seam, and B's)
    chart_of = (split.uvs[:, 0] > 0.5).astype(int)
    assert np.allclose(split.uvs[:, 0], _true_uv(np.clip(split.vertices[:, 0], 0.5 * chart_of, 0.5 + 0.5 * chart_of),
                                                 chart_of), atol=1e-5)
    assert np.allclose(split.uvs[:, 1], split.vertices[:, 1], atol=1e-5)
    assert (ch[bf] == ch[bf[0]]).sum() < len(bf)  # bindings in both charts


def test_seam_aware_uv_error_counts_seam_crossers_by_surface_distance():
    from sdk.evaluation.registration import uv_error_breakdown, uv_error_texels
    src, _ = _seam_source()
    gt = MeshSequence(np.stack([src.vertices, src.vertices]), src.faces, 24.0, uvs=src.uvs)
    v, f = _grid(14, 9)
    tmpl = propagate_uv(src, Mesh(v * [0.98, 1, 1] + [0.01, 0, 0], f))
    shift = 0.05  # every vertex slides 0.05 along +x at frame 1 (a tangential drift)
    reg = MeshSequence(np.stack([tmpl.vertices, tmpl.vertices + [shift, 0, 0]]), tmpl.faces, 24.0, uvs=tmpl.uvs)
    tex = 256
    raw = uv_error_texels(reg, gt, tex, [1])[0]
    b = uv_error_breakdown(reg, gt, tex, [1], fold_pct=10.0)  # the slide is 3.5 % of this diagonal
    dens = np.sqrt(0.5) * tex  # texels per unit length in both charts (u = 0.5 x, v = y)
    crossers = (tmpl.vertices[:, 0] < 0.5) & (tmpl.vertices[:, 0] + shift >= 0.5)
    assert crossers.any() and raw[crossers].min() > 100  # the raw metric reads the other side of the atlas
    assert b["seam"]["share_pct"] > 0 and b["fold"]["share_pct"] == 0
    assert b["seam"]["seam_aware_mean"] < 2 * shift * dens  # ... the lookup misses by the slide, in texels
    assert b["seam_aware_mean"] < 0.5 * raw.mean()
