"""The one preview module: PNG/GIF previews of rigs, articulations and part predictions, all drawn by the
project's renderer (``sdk.render``) with one palette (:func:`palette`).

* :func:`render_rig_preview` — rigs: parts, blended skin weights and the skeleton, from three views;
* :func:`write_articulation_preview` — articulations: every movable joint swept through its range
  (``Articulation.link_transforms``); ``.gif`` animates, ``.png`` is a grid (rows = joints; lower / mid / upper);
* :func:`write_parts_preview` — ``articulate parts``: renders, part encodings, part maps and lifted labels.
"""
from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np

from ..core import Articulation, Rig
from ..util.atomic import atomic_path


def palette(n: int) -> np.ndarray:
    """n well-separated colours [n, 3] in [0, 1] (golden-ratio hues)."""
    return np.array([colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65, 0.95) for i in range(max(n, 1))])


def label_image(labels: np.ndarray, n: int | None = None) -> np.ndarray:
    """Integer label map [..., H, W] (-1: none) -> colours [..., H, W, 3] in [0, 1] (palette; white background)."""
    labels = np.asarray(labels)
    n = n or int(labels.max(initial=0)) + 1
    pal = palette(n)
    return np.where(labels[..., None] >= 0, pal[labels.clip(0) % n], 1.0)


def _views(vertices: np.ndarray, size: int):
    from .camera import orbit_cameras
    c = 0.5 * (vertices.min(0) + vertices.max(0))
    r = float(np.linalg.norm(vertices.max(0) - vertices.min(0))) * 0.5 or 1.0
    cams = orbit_cameras(azimuth=[0.6, 1.57 + 0.3, -0.9], elevation=[0.35, 0.2, 0.5], radius=2.9 * r,
                         fov_deg=40.0, width=size, target=tuple(c.tolist()))
    return cams


def draw_skeleton(draw, uv: np.ndarray, parents, colors: np.ndarray, labels=None) -> None:
    """Bones as dark lines and joints as dots on a PIL ``ImageDraw``: ``uv`` [J, 2] pixel positions, ``colors``
    [J, 3] in 0..1, optional ``labels`` [J] (a None or empty label draws no text)."""
    for j, p in enumerate(parents):
        if p >= 0:
            draw.line([tuple(uv[p]), tuple(uv[j])], fill=(20, 20, 20), width=2)
    for j in range(len(parents)):
        x, y = uv[j]
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=tuple(int(255 * c) for c in colors[j]), outline=(0, 0, 0))
        if labels is not None and labels[j]:
            draw.text((x + 4, y - 5), labels[j], fill=(0, 0, 90))


def render_rig_preview(rig: Rig, path, size: int = 256) -> Path:
    """Write a 2x3 PNG: top row parts (or dominant joint), bottom row blended weights + skeleton."""
    import torch
    from PIL import Image, ImageDraw
    from .camera import project
    from .raster import render_mesh

    v, f = rig.mesh.vertices, rig.mesh.faces
    cams = _views(v, size)
    J = rig.skeleton.n_joints
    jcol = palette(J)
    if rig.parts is not None and rig.parts.n_parts:
        pc = palette(rig.parts.n_parts)
        lab = np.clip(rig.parts.labels, 0, None)
        top_colors = pc[lab]
    else:
        top_colors = jcol[rig.skin.indices[:, 0]]
    dense = rig.skin.to_dense(J)
    blend = dense @ jcol
    top = render_mesh(v, f, cams, face_colors=top_colors[f[:, 0]]).rgb.numpy()
    bot = render_mesh(v, f, cams, vertex_colors=blend).rgb.numpy()
    uv, depth = project(torch.as_tensor(rig.skeleton.joint_positions()), cams)
    uv = uv.numpy()
    canvas = Image.new("RGB", (3 * size, 2 * size), "white")
    for i in range(3):
        canvas.paste(Image.fromarray((top[i] * 255).astype(np.uint8)), (i * size, 0))
        im = Image.fromarray((bot[i] * 255).astype(np.uint8))
        draw_skeleton(ImageDraw.Draw(im), uv[i], rig.skeleton.parents, jcol)
        canvas.paste(im, (i * size, size))
    d = ImageDraw.Draw(canvas)
    d.text((6, 4), "parts", fill=(0, 0, 0))
    d.text((6, size + 4), f"skin weights + skeleton ({J} joints)", fill=(0, 0, 0))
    path = Path(path)
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    return path


# ------------------------------------------------------------------------------------------- articulations
def _max_faces(faces: np.ndarray, cap: int) -> np.ndarray:
    if len(faces) <= cap:
        return faces
    return faces[np.random.default_rng(0).choice(len(faces), cap, replace=False)]


def render_articulation(art: Articulation, poses: list[dict], *, size: int = 256, up: str = "y",
                        face_cap: int = 6000) -> list:
    """One PIL image per pose ({joint name: amount}) from a fixed 3/4 view, links in palette colours, moved by
    ``Articulation.link_transforms`` and drawn by the painter (``sdk.render.painter``)."""
    from .painter import paint, screen_bounds, view_basis
    view = view_basis(up)
    links = [(i, l, _max_faces(l.mesh.faces, face_cap)) for i, l in enumerate(art.links)
             if l.mesh is not None and l.mesh.n_faces]
    cols = palette(len(art.links))
    colors = np.concatenate([np.repeat(cols[i][None], len(f), 0) for i, _, f in links])
    bounds = screen_bounds(np.concatenate([l.mesh.vertices for _, l, _ in links]), view)
    out = []
    for q in poses:
        m = art.link_transforms(q)
        tris = np.concatenate([(l.mesh.vertices @ m[l.name][:3, :3].T + m[l.name][:3, 3])[f] for _, l, f in links])
        out.append(paint(tris, colors, view, size, bounds))
    return out


def _sweep(j, frames_per_joint: int) -> np.ndarray:
    lo, hi = (0.0, np.pi) if j.type == "continuous" else (j.lower, j.upper)
    return np.concatenate([np.linspace(lo, hi, frames_per_joint), np.linspace(hi, lo, frames_per_joint)[1:-1]])


def write_articulation_preview(art: Articulation, path, *, size: int = 256, up: str = "y",
                               frames_per_joint: int = 8) -> Path:
    """``.gif``: animated sweep of every joint; ``.png``: grid rows = joints, columns = lower / mid / upper."""
    from PIL import Image
    path = Path(path)
    js = art.movable_joints()
    if path.suffix.lower() == ".gif":
        poses = [{j.name: float(a)} for j in js for a in _sweep(j, frames_per_joint)] or [{}]
        imgs = render_articulation(art, poses, size=size, up=up)
        with atomic_path(path) as tmp:
            imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:], duration=90, loop=0)
        return path
    poses = []
    for j in js or [None]:
        for f in (0.0, 0.5, 1.0):
            if j is None:
                poses.append({})
            else:
                lo, hi = (0.0, np.pi / 2) if j.type == "continuous" else (j.lower, j.upper)
                poses.append({j.name: lo + f * (hi - lo)})
    imgs = render_articulation(art, poses, size=size, up=up)
    grid = Image.new("RGB", (3 * size, (len(imgs) // 3) * size), (255, 255, 255))
    for k, im in enumerate(imgs):
        grid.paste(im, ((k % 3) * size, (k // 3) * size))
    with atomic_path(path) as tmp:
        grid.save(tmp, format="PNG")
    return path


# ------------------------------------------------------------------------------------------- part predictions
def write_parts_preview(res: dict, path) -> Path:
    """Rows: renders, predicted part encodings, back-mapped part maps, lifted per-vertex labels (one palette)."""
    from PIL import Image
    from .raster import render_mesh
    k = int(max(res["labels"].max(initial=0), res["part_maps"].max(initial=0))) + 1
    vc = palette(k)[res["labels"] % k]
    lifted = render_mesh(res["vertices"], res["faces"], res["cameras"].to("cpu"), vertex_colors=vc, ambient=1.0)
    rows = [res["rgb"], res["enc"], label_image(res["part_maps"], k), lifted.rgb.numpy()]
    img = np.concatenate([np.concatenate(list(r), 1) for r in rows], 0)
    img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(img).resize((img.shape[1] * 2, img.shape[0] * 2), Image.NEAREST).save(tmp, format="PNG")
    return path
