"""Write a mesh cache as Alembic (``.abc``) through Blender's ``bpy`` (optional extra ``alembic = ["bpy==5.0.1"]``).

For Unreal's Geometry Cache importer and Unity's ``com.unity.formats.alembic``. The cache is first written as USD
(``exporters.usd_cache``), then a separate Python process imports it with ``bpy.ops.wm.usd_import`` and writes
``bpy.ops.wm.alembic_export(uvs=True, normals=True, face_sets=False)``. A child process keeps Blender's bundled USD
libraries away from usd-core's in this process. Alembic is Y-up: the points are stored as given (Y-up content);
Blender itself shows the object rotated onto its Z-up world.

Note: never ``pip install alembic`` for this: that PyPI name is SQLAlchemy's migration tool.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

from sdk.core import MeshFrames, MeshSequence
from sdk.errors import ArticulateError, InvalidInputError, MissingDependencyError
from sdk.util.atomic import atomic_path

_EXPORT = r"""
import sys, bpy
src, dst, start, end, fps = sys.argv[-5:]
bpy.ops.wm.read_factory_settings(use_empty=True)
sc = bpy.context.scene
sc.render.fps = max(1, int(round(float(fps))))
sc.render.fps_base = sc.render.fps / float(fps)
res = bpy.ops.wm.usd_import(filepath=src)
if 'FINISHED' not in res:
    raise SystemExit("usd_import failed: %s" % (res,))
sc.frame_start, sc.frame_end = int(start), int(end)
res = bpy.ops.wm.alembic_export(filepath=dst, start=int(start), end=int(end), uvs=True, normals=True,
                                face_sets=False, selected=False)
if 'FINISHED' not in res:
    raise SystemExit("alembic_export failed: %s" % (res,))
"""

_READ = r"""
import sys, bpy, numpy as np
src, dst, start, end, fps = sys.argv[-5:]
bpy.ops.wm.read_factory_settings(use_empty=True)
sc = bpy.context.scene
sc.render.fps = max(1, int(round(float(fps))))
sc.render.fps_base = sc.render.fps / float(fps)
bpy.ops.wm.alembic_import(filepath=src)
frames, faces, uv = [], None, None
for f in range(int(start), int(end) + 1):
    sc.frame_set(f)
    dg = bpy.context.evaluated_depsgraph_get()
    vs = []
    for o in bpy.data.objects:
        if o.type != 'MESH':
            continue
        me = o.evaluated_get(dg).to_mesh()
        v = np.zeros(len(me.vertices) * 3); me.vertices.foreach_get('co', v); vs.append(v.reshape(-1, 3))
        if faces is None:
            me.calc_loop_triangles()
            t = np.zeros(len(me.loop_triangles) * 3, np.int64); me.loop_triangles.foreach_get('vertices', t)
            faces = t.reshape(-1, 3)
    frames.append(np.concatenate(vs))
np.savez(dst, vertices=np.stack(frames), faces=faces)
"""


def _have_bpy() -> bool:
    return importlib.util.find_spec("bpy") is not None


def _run_blender_script(script: str, args: list[str], what: str, timeout: float = 600):
    if not _have_bpy():
        raise MissingDependencyError("bpy", what, "pip install 'articulate-sdk[alembic]' (bpy==5.0.1, Python 3.11)")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(script)
        sp = fh.name
    try:
        r = subprocess.run([sys.executable, sp, "--", *args], capture_output=True, text=True, timeout=timeout)
    finally:
        Path(sp).unlink(missing_ok=True)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise ArticulateError(f"{what} through Blender failed: {' | '.join(tail)}")
    return r


def write_mesh_cache_alembic(seq: MeshSequence | MeshFrames, path, *, name: str | None = None) -> Path:
    """Write ``seq`` to ``path`` (.abc) atomically, through a USD cache and Blender; returns the path."""
    from .usd_cache import write_mesh_cache_usd
    path = Path(path)
    if path.suffix.lower() != ".abc":
        raise InvalidInputError(f"Alembic output must end in .abc, got '{path.suffix}'", field="output")
    if not _have_bpy():
        raise MissingDependencyError("bpy", "Alembic export", "pip install 'articulate-sdk[alembic]' (bpy==5.0.1)")
    with tempfile.TemporaryDirectory(prefix="abc_") as td:
        usd = write_mesh_cache_usd(seq, Path(td) / "cache.usdc", name=name, separate_layer=False)
        with atomic_path(path) as tmp:
            _run_blender_script(_EXPORT, [str(usd), str(tmp), "0", str(seq.n_frames - 1), str(float(seq.fps))],
                                "Alembic export")
    return path


def read_alembic_points(path, n_frames: int, fps: float):
    """Evaluated points ``[T, V, 3]`` (and faces) of every mesh in an ``.abc`` at frames 0..n_frames-1 of a scene at
    ``fps`` (Alembic stores seconds), via Blender
    (used by the tests to check the export)."""
    import numpy as np
    with tempfile.TemporaryDirectory(prefix="abc_") as td:
        out = Path(td) / "pts.npz"
        _run_blender_script(_READ, [str(path), str(out), "0", str(n_frames - 1), str(float(fps))], "Alembic read")
        z = np.load(out)
        return z["vertices"], z["faces"]
