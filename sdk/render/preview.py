"""The one preview module: PNG/GIF previews of rigs, articulations and part predictions, all drawn by the
project's renderer (``sdk.render``) with one palette (:func:`palette`).

* :func:`render_rig_preview` — rigs: parts, blended skin weights and the skeleton, from three views;
* :func:`write_articulation_preview` — articulations: every movable joint swept through its range
  (``Articulation.link_transforms``) with its axis drawn (arrow + pivot; prismatic: a double arrow), seen from
  the side the moving parts face; ``.gif`` animates, ``.png`` is a grid (rows = joints; lower / mid / upper);
* :func:`write_parts_preview` — ``articulate parts``: renders, part encodings, part maps and lifted labels (rows
  labelled);
* :func:`write_motion_preview` — ``rig-from-motion``: the input clip next to the recovered rig replaying it (GIF).
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


def facing_azimuth(art: Articulation, up: str = "y", offset_deg: float = 30.0) -> float:
    """Azimuth (degrees, :func:`sdk.render.painter.view_basis`) from which the moving parts face the camera: the
    viewer stands where the movable links go as they start to open (each link's centre moved by a small opening,
    20 deg or a tenth of the travel, minus at rest, horizontal part, one unit vector per joint), turned by
    ``offset_deg`` for a three-quarter view. 35 (the default view) without motion."""
    upv = np.eye(3)[{"x": 0, "y": 1, "z": 2}[up.lower()]]
    total = np.zeros(3)
    rest = art.link_transforms({})
    for j in art.movable_joints():
        link = next((l for l in art.links if l.name == j.child and l.mesh is not None and l.mesh.n_faces), None)
        if link is None:
            continue
        hi = np.pi / 2 if j.type == "continuous" else (j.upper if abs(j.upper) >= abs(j.lower) else j.lower)
        amt = float(np.sign(hi) * min(abs(hi), np.deg2rad(20))) if j.type != "prismatic" else 0.1 * float(hi)
        c = link.mesh.vertices.mean(0)
        m0, m1 = rest[link.name], art.link_transforms({j.name: amt})[link.name]
        d = (m1[:3, :3] @ c + m1[:3, 3]) - (m0[:3, :3] @ c + m0[:3, 3])
        d = d - np.dot(d, upv) * upv
        n = float(np.linalg.norm(d))
        if n > 1e-12:
            total += d / n
    if np.linalg.norm(total) < 1e-9:
        return 35.0
    h = total / np.linalg.norm(total)
    az = np.degrees(np.arctan2(h[0], -h[1])) if up.lower() == "z" else np.degrees(np.arctan2(h[0], h[2]))
    return float(az + offset_deg)


def draw_joint_axes(draw, art: Articulation, transforms: dict, to_px, *, length: float) -> None:
    """Joint axes on a PIL ``ImageDraw``: a revolute/continuous joint as an arrow along its axis through its pivot
    (a dot); a prismatic one as a double arrow through its part's centre. ``to_px``: world [N, 3] -> pixels [N, 2];
    ``transforms``: ``Articulation.link_transforms`` of the pose drawn (a joint moves with its parent link)."""
    cols = palette(len(art.links))
    index = {l.name: i for i, l in enumerate(art.links)}
    for j in art.movable_joints():
        m = transforms.get(j.parent, np.eye(4))
        axis = m[:3, :3] @ (np.asarray(j.axis, float) / max(float(np.linalg.norm(j.axis)), 1e-12))
        if j.type == "prismatic":
            link = next((l for l in art.links if l.name == j.child and l.mesh is not None), None)
            mc = transforms.get(j.child, np.eye(4))
            c = link.mesh.vertices.mean(0) if link is not None else np.asarray(j.origin, float)
            pivot = mc[:3, :3] @ c + mc[:3, 3]
            ends = [pivot - length * axis, pivot + length * axis]
        else:
            pivot = m[:3, :3] @ np.asarray(j.origin, float) + m[:3, 3]
            ends = [pivot - 0.6 * length * axis, pivot + length * axis]
        (a, b), pv = to_px(np.stack(ends)), to_px(pivot[None])[0]
        col = tuple(int(255 * 0.55 * x) for x in cols[index.get(j.child, 0)])
        draw.line([tuple(a), tuple(b)], fill=(20, 20, 20), width=5)
        draw.line([tuple(a), tuple(b)], fill=col, width=3)
        heads = [(a, b), (b, a)] if j.type == "prismatic" else [(a, b)]
        for tail, tip in heads:
            d = tip - tail
            n = float(np.linalg.norm(d))
            if n < 1e-6:
                continue
            d /= n
            perp = np.array([-d[1], d[0]])
            h = min(12.0, 0.35 * n)
            pts = [tuple(tip), tuple(tip - h * d + 0.5 * h * perp), tuple(tip - h * d - 0.5 * h * perp)]
            draw.polygon(pts, fill=col, outline=(20, 20, 20))
        if j.type != "prismatic":
            r = 4
            draw.ellipse([pv[0] - r, pv[1] - r, pv[0] + r, pv[1] + r], fill=(255, 255, 255), outline=(20, 20, 20),
                         width=2)


def render_articulation(art: Articulation, poses: list[dict], *, size: int = 256, up: str = "y",
                        face_cap: int = 6000, axes: bool = True, azimuth: float | None = None) -> list:
    """One PIL image per pose ({joint name: amount}), links in palette colours, moved by
    ``Articulation.link_transforms`` and drawn by the painter (``sdk.render.painter``), from the side the moving
    parts face (:func:`facing_azimuth`, unless ``azimuth`` is given), with the joint axes drawn (``axes``)."""
    from PIL import ImageDraw
    from .painter import paint, screen_bounds, to_pixels, view_basis
    view = view_basis(up, azimuth_deg=facing_azimuth(art, up) if azimuth is None else azimuth)
    links = [(i, l, _max_faces(l.mesh.faces, face_cap)) for i, l in enumerate(art.links)
             if l.mesh is not None and l.mesh.n_faces]
    cols = palette(len(art.links))
    colors = np.concatenate([np.repeat(cols[i][None], len(f), 0) for i, _, f in links])
    allv = np.concatenate([l.mesh.vertices for _, l, _ in links])
    bounds = screen_bounds(allv, view)
    length = 0.3 * float(np.linalg.norm(allv.max(0) - allv.min(0)))
    out = []
    for q in poses:
        m = art.link_transforms(q)
        tris = np.concatenate([(l.mesh.vertices @ m[l.name][:3, :3].T + m[l.name][:3, 3])[f] for _, l, f in links])
        img = paint(tris, colors, view, size, bounds)
        if axes:
            draw_joint_axes(ImageDraw.Draw(img), art, m, lambda p: to_pixels(p, view, size, bounds), length=length)
        out.append(img)
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
def _label_column(names: list[str], row_h: int, width: int = 120):
    """A white column [H, width, 3] uint8 with one name per row (left of a preview grid)."""
    from PIL import Image, ImageDraw
    col = Image.new("RGB", (width, row_h * len(names)), (255, 255, 255))
    d = ImageDraw.Draw(col)
    for k, n in enumerate(names):
        y = k * row_h + row_h // 2
        for i, line in enumerate(n.split("\n")):
            d.text((6, y - 6 + 12 * (i - (n.count("\n")) / 2)), line, fill=(20, 20, 20))
    return np.asarray(col)


PARTS_ROWS = ("input renders", "predicted part\nencodings", "back-mapped\npart maps", "lifted vertex\nlabels")


def write_parts_preview(res: dict, path) -> Path:
    """Rows (each labelled on the left): renders, predicted part encodings, back-mapped part maps, lifted
    per-vertex labels (one palette)."""
    from PIL import Image
    from .raster import render_mesh
    k = int(max(res["labels"].max(initial=0), res["part_maps"].max(initial=0))) + 1
    vc = palette(k)[res["labels"] % k]
    lifted = render_mesh(res["vertices"], res["faces"], res["cameras"].to("cpu"), vertex_colors=vc, ambient=1.0)
    rows = [res["rgb"], res["enc"], label_image(res["part_maps"], k), lifted.rgb.numpy()]
    img = np.concatenate([np.concatenate(list(r), 1) for r in rows], 0)
    img = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    img = np.asarray(Image.fromarray(img).resize((img.shape[1] * 2, img.shape[0] * 2), Image.NEAREST))
    img = np.concatenate([_label_column(list(PARTS_ROWS), img.shape[0] // len(rows)), img], 1)
    path = Path(path)
    with atomic_path(path) as tmp:
        Image.fromarray(img).save(tmp, format="PNG")
    return path


# ------------------------------------------------------------------------------------------- rig from motion
def write_motion_preview(input_vertices: np.ndarray, faces: np.ndarray, rig: Rig, path, *, up: str = "y",
                         size: int = 160, max_frames: int = 48, face_cap: int = 4000, fps: float = 30.0) -> Path:
    """GIF: the input sequence (left, grey) next to the recovered rig replaying it (right, each vertex in the
    colour of its strongest bone), at most ``max_frames`` evenly spaced frames, ``size`` px per panel, at most
    ``face_cap`` triangles per panel, back faces culled (the painter costs ~40 µs a drawn triangle: about half
    are drawn, 4000 x 2 panels x 48 frames ~ 4-8 s on a loaded 2-core machine).

    input_vertices: [T, V, 3]; the rig's replay is ``rig.animate()`` [T', V', 3] (frames matched by index)."""
    from PIL import Image, ImageDraw
    from .painter import paint, screen_bounds, view_basis
    inp = np.asarray(input_vertices, dtype=np.float64)
    rep = np.asarray(rig.animate(), dtype=np.float64)
    T = min(len(inp), len(rep))
    idx = np.unique(np.linspace(0, T - 1, min(T, max_frames)).round().astype(int))
    if faces is None:  # point trajectories (.npy): the rig's faces (same vertices)
        faces = rig.mesh.faces
    f_in = _max_faces(np.asarray(faces), face_cap)
    f_rig = _max_faces(np.asarray(rig.mesh.faces), face_cap)
    view = view_basis(up)
    bounds = screen_bounds(np.concatenate([inp[idx].reshape(-1, 3), rep[idx].reshape(-1, 3)]), view, pad=0.1)
    bone = np.asarray(rig.skin.indices)[np.arange(rig.mesh.n_vertices), np.argmax(np.asarray(rig.skin.weights), 1)]
    vcol = palette(rig.skeleton.n_joints)[bone]
    c_rig = vcol[f_rig].mean(1)
    c_in = np.full((len(f_in), 3), 0.72)
    frames = []
    for t in idx:
        a = paint(inp[t][f_in], c_in, view, size, bounds, cull=True)
        b = paint(rep[t][f_rig], c_rig, view, size, bounds, cull=True)
        im = Image.new("RGB", (2 * size, size + 14), (255, 255, 255))
        im.paste(a, (0, 14))
        im.paste(b, (size, 14))
        d = ImageDraw.Draw(im)
        d.text((4, 1), f"input  frame {t + 1}/{T}", fill=(20, 20, 20))
        d.text((size + 4, 1), "recovered rig", fill=(20, 20, 20))
        frames.append(im)
    path = Path(path)
    step = max(1, int(round((idx[1] - idx[0]) if len(idx) > 1 else 1)))
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=int(1000 * step / max(fps, 1e-6)), loop=0)
    return path
