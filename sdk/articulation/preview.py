"""GIF/PNG preview of every joint swept through its range (PIL only: painter's-algorithm triangle fill).

Each frame draws all links with the joint under study (and its descendants) moved to a fraction of its
range, from a fixed 3/4 view, triangles sorted back to front and shaded by their facing (Lambert). The GIF
cycles through the joints one after another; the PNG is a grid: one row per joint, rest / mid / end of range.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core import Articulation
from ..util.atomic import atomic_path
from .axis_search import joint_transform

PALETTE = [(200, 200, 205), (230, 120, 60), (70, 140, 220), (90, 190, 110), (210, 80, 160), (220, 200, 70),
           (120, 100, 200), (80, 200, 200)]


def _view(up: str):
    az, el = np.deg2rad(35), np.deg2rad(25)
    if up.lower() == "z":
        fwd = np.array([np.cos(el) * np.sin(az), -np.cos(el) * np.cos(az), np.sin(el)])
        upv = np.array([0, 0, 1.0])
    else:
        fwd = np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
        upv = np.array([0, 1.0, 0])
    right = np.cross(upv, fwd)
    right /= np.linalg.norm(right)
    upc = np.cross(fwd, right)
    return np.stack([right, upc, fwd])  # rows: screen x, screen y, towards the viewer


def _max_faces(mesh, cap):
    if mesh.n_faces <= cap:
        return mesh.faces
    return mesh.faces[np.random.default_rng(0).choice(mesh.n_faces, cap, replace=False)]


def render_state(art: Articulation, motions: dict, size=256, up="y", bounds=None, face_cap=6000):
    """One frame: ``motions`` maps link name -> world 4x4 motion. Returns a PIL image."""
    from PIL import Image, ImageDraw
    R = _view(up)
    tris, cols = [], []
    for li, l in enumerate(art.links):
        if l.mesh is None or l.mesh.n_faces == 0:
            continue
        M = motions.get(l.name, np.eye(4))
        v = l.mesh.vertices @ M[:3, :3].T + M[:3, 3]
        f = _max_faces(l.mesh, face_cap)
        tris.append(v[f])
        cols.append(np.repeat(np.array(PALETTE[li % len(PALETTE)], float)[None], len(f), 0))
    t = np.concatenate(tris)  # [T, 3, 3]
    c = np.concatenate(cols)
    s = t @ R.T  # screen coords
    if bounds is None:
        lo, hi = s[..., :2].reshape(-1, 2).min(0), s[..., :2].reshape(-1, 2).max(0)
    else:
        lo, hi = bounds
    scale = 0.9 * size / max(float(np.max(hi - lo)), 1e-12)
    mid = (lo + hi) / 2
    xy = (s[..., :2] - mid) * scale
    xy[..., 1] *= -1
    xy += size / 2
    n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    shade = 0.35 + 0.65 * np.abs(n @ R[2])
    order = np.argsort(s[..., 2].mean(1))  # far first (smaller towards-viewer coordinate)
    img = Image.new("RGB", (size, size), (250, 250, 250))
    d = ImageDraw.Draw(img)
    for i in order:
        col = tuple(int(x) for x in np.clip(c[i] * shade[i], 0, 255))
        d.polygon([tuple(p) for p in xy[i].tolist()], fill=col)
    return img


def _descendants(art: Articulation, link: str) -> list[str]:
    out = [link]
    for j in art.joints:
        if j.parent == link:
            out += _descendants(art, j.child)
    return out


def _bounds(art, up):
    R = _view(up)
    pts = np.concatenate([l.mesh.vertices for l in art.links if l.mesh is not None and l.mesh.n_faces]) @ R.T
    lo, hi = pts[:, :2].min(0), pts[:, :2].max(0)
    pad = 0.35 * (hi - lo).max()
    return lo - pad, hi + pad


def preview_frames(art: Articulation, *, frames_per_joint: int = 8, size: int = 256, up: str = "y"):
    """Frames (PIL images) sweeping each movable joint from its lower to its upper limit and back."""
    bounds = _bounds(art, up)
    out = []
    for j in art.movable_joints():
        lo, hi = (j.lower, j.upper)
        if j.type == "continuous":
            lo, hi = 0.0, np.pi
        amts = np.concatenate([np.linspace(lo, hi, frames_per_joint), np.linspace(hi, lo, frames_per_joint)[1:-1]])
        for a in amts:
            M = joint_transform("revolute" if j.type == "continuous" else j.type, j.origin, j.axis, a)
            out.append(render_state(art, {n: M for n in _descendants(art, j.child)}, size, up, bounds))
    if not out:
        out.append(render_state(art, {}, size, up, bounds))
    return out


def write_preview(art: Articulation, path, *, size: int = 256, up: str = "y", frames_per_joint: int = 8) -> Path:
    """``.gif``: animated sweep of every joint; ``.png``: grid rows = joints, columns = lower / mid / upper."""
    from PIL import Image
    path = Path(path)
    if path.suffix.lower() == ".gif":
        frames = preview_frames(art, frames_per_joint=frames_per_joint, size=size, up=up)
        with atomic_path(path) as tmp:
            frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=90, loop=0)
        return path
    bounds = _bounds(art, up)
    js = art.movable_joints() or [None]
    grid = Image.new("RGB", (3 * size, len(js) * size), (255, 255, 255))
    for r, j in enumerate(js):
        for cidx, f in enumerate((0.0, 0.5, 1.0)):
            if j is None:
                im = render_state(art, {}, size, up, bounds)
            else:
                lo, hi = (0.0, np.pi / 2) if j.type == "continuous" else (j.lower, j.upper)
                a = lo + f * (hi - lo)
                M = joint_transform("revolute" if j.type == "continuous" else j.type, j.origin, j.axis, a)
                im = render_state(art, {n: M for n in _descendants(art, j.child)}, size, up, bounds)
            grid.paste(im, (cidx * size, r * size))
    with atomic_path(path) as tmp:
        grid.save(tmp, format="PNG")
    return path
