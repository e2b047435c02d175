"""PNG previews of rigs: parts, blended skin weights and the skeleton, from three views."""
from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np

from .core import Rig
from .util.atomic import atomic_path


def palette(n: int) -> np.ndarray:
    """n well-separated colours [n, 3] in [0, 1] (golden-ratio hues)."""
    return np.array([colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65, 0.95) for i in range(max(n, 1))])


def _views(vertices: np.ndarray, size: int):
    from .render import orbit_cameras
    c = 0.5 * (vertices.min(0) + vertices.max(0))
    r = float(np.linalg.norm(vertices.max(0) - vertices.min(0))) * 0.5 or 1.0
    cams = orbit_cameras(azimuth=[0.6, 1.57 + 0.3, -0.9], elevation=[0.35, 0.2, 0.5], radius=2.9 * r,
                         fov_deg=40.0, width=size, target=tuple(c.tolist()))
    return cams


def render_rig_preview(rig: Rig, path, size: int = 256) -> Path:
    """Write a 2x3 PNG: top row parts (or dominant joint), bottom row blended weights + skeleton."""
    import torch
    from PIL import Image, ImageDraw
    from .render import project, render_mesh

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
        d = ImageDraw.Draw(im)
        for j, p in enumerate(rig.skeleton.parents):
            if p >= 0:
                d.line([tuple(uv[i, p]), tuple(uv[i, j])], fill=(20, 20, 20), width=2)
        for j in range(J):
            x, y = uv[i, j]
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=tuple(int(255 * c) for c in jcol[j]), outline=(0, 0, 0))
        canvas.paste(im, (i * size, size))
    d = ImageDraw.Draw(canvas)
    d.text((6, 4), "parts", fill=(0, 0, 0))
    d.text((6, size + 4), f"skin weights + skeleton ({J} joints)", fill=(0, 0, 0))
    path = Path(path)
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    return path
