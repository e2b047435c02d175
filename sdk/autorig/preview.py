"""PNG preview of an automatic rig: blended weights with the embedded skeleton and every bone's name."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def render_autorig_preview(rig, path, size: int = 384) -> Path:
    """Two views (front, side) of the skinned mesh, bones drawn as lines, joints labelled with their names."""
    import torch
    from PIL import Image, ImageDraw
    from ..render.preview import draw_skeleton, palette
    from ..render import orbit_cameras, project, render_mesh
    from ..util.atomic import atomic_path
    v, f = rig.mesh.vertices, rig.mesh.faces
    J = rig.skeleton.n_joints
    col = palette(J)
    blend = rig.skin.to_dense(J) @ col
    c = 0.5 * (v.min(0) + v.max(0))
    r = float(np.linalg.norm(v.max(0) - v.min(0))) * 0.5 or 1.0
    cams = orbit_cameras(azimuth=[0.0, 1.57], elevation=[0.05, 0.05], radius=2.6 * r, fov_deg=40.0, width=size,
                         target=tuple(c.tolist()))
    img = render_mesh(v, f, cams, vertex_colors=0.55 * blend + 0.45).rgb.numpy()
    uv = project(torch.as_tensor(rig.skeleton.joint_positions()), cams)[0].numpy()
    canvas = Image.new("RGB", (2 * size, size + 18), "white")
    for i in range(2):
        im = Image.fromarray((img[i] * 255).astype(np.uint8))
        # the side view labels only one side (the right side's names would overprint the left's)
        labels = [n if i == 0 or "_r" not in n[-2:] else None for n in rig.skeleton.names]
        draw_skeleton(ImageDraw.Draw(im), uv[i], rig.skeleton.parents, col, labels)
        canvas.paste(im, (i * size, 18))
    d = ImageDraw.Draw(canvas)
    m = rig.metadata
    d.text((6, 3), f"{m.get('template', '')} / {m.get('naming', '')}: {J} bones, {rig.skin.max_influences} influences",
           fill=(0, 0, 0))
    path = Path(path)
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    return path
