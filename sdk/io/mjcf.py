"""MJCF (MuJoCo XML) reader: bodies become links/parts, hinge/slide joints kept as hidden ground truth.

Handles ``<include>`` (paths relative to the main model's folder, as MuJoCo does), ``<compiler angle=
meshdir=>``, nested ``<default class>`` with ``childclass``, body/geom ``pos``/``quat``/``euler``/
``axisangle``, mesh geoms (STL/OBJ via trimesh, ``scale``) and primitive geoms (box, cylinder, capsule,
sphere, ellipsoid). Only visual geoms are used: geoms whose resolved ``group`` is 3 or more (MuJoCo's
convention for collision proxies, e.g. Metaworld's ``*_col`` class in group 4) are skipped unless there are
no others. Top-level bodies without any joint in their subtree (table, floor) are dropped unless
``keep_static=True``.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..core import Articulation, Joint, Link, Mesh, sanitize_name
from ..errors import AssetReadError, no_such_file
from .asset import Asset
from .urdf import _merge, asset_from_articulation, load_mesh_file


def _vec(s, n, default):
    if s is None:
        return np.array(default, dtype=np.float64)
    v = np.array([float(x) for x in s.split()], dtype=np.float64)
    return v


def _quat_mat(q):  # (w, x, y, z) -> [3, 3]
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _axis_angle(axis, ang):
    a = np.asarray(axis, float)
    a = a / np.linalg.norm(a)
    K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(ang) * K + (1 - np.cos(ang)) * K @ K


class _Ctx:
    def __init__(self, path: Path):
        self.path = path
        self.base = path.parent
        self.angle_deg = True
        self.meshdir = None
        self.meshes: dict[str, tuple[Path, np.ndarray]] = {}
        self.defaults: dict[str, dict[str, dict]] = {}  # class -> tag -> attrs (inherited)

    def frame(self, el) -> np.ndarray:
        m = np.eye(4)
        m[:3, 3] = _vec(el.get("pos"), 3, [0, 0, 0])
        if el.get("quat") is not None:
            m[:3, :3] = _quat_mat(_vec(el.get("quat"), 4, [1, 0, 0, 0]))
        elif el.get("euler") is not None:
            e = _vec(el.get("euler"), 3, [0, 0, 0])
            if self.angle_deg:
                e = np.deg2rad(e)
            R = np.eye(3)
            for k, ang in enumerate(e):  # MuJoCo default eulerseq "xyz": intrinsic rotations
                ax = np.eye(3)[k]
                R = R @ _axis_angle(ax, ang)
            m[:3, :3] = R
        elif el.get("axisangle") is not None:
            aa = _vec(el.get("axisangle"), 4, [1, 0, 0, 0])
            ang = np.deg2rad(aa[3]) if self.angle_deg else aa[3]
            m[:3, :3] = _axis_angle(aa[:3], ang)
        return m


def _expand(el, ctx: _Ctx, seen=None):
    """Inline <include> elements recursively (in place)."""
    seen = seen or set()
    for i, child in enumerate(list(el)):
        if child.tag == "include":
            f = ctx.base / child.get("file", "")
            if not f.exists():
                raise AssetReadError(f, f"included file is missing (referenced by {ctx.path})")
            if f in seen:
                raise AssetReadError(f, "recursive include")
            try:
                inc = ET.parse(f).getroot()
            except ET.ParseError as e:
                raise AssetReadError(f, f"not valid XML ({e})") from e
            _expand(inc, ctx, seen | {f})
            idx = list(el).index(child)
            el.remove(child)
            for k, c in enumerate(list(inc)):
                el.insert(idx + k, c)
        else:
            _expand(child, ctx, seen)


def _collect_defaults(el, ctx: _Ctx, parent_cls: str | None):
    name = el.get("class", "main")
    inherited = {t: dict(a) for t, a in ctx.defaults.get(parent_cls, {}).items()} if parent_cls else {}
    for child in el:
        if child.tag == "default":
            continue
        inherited.setdefault(child.tag, {}).update(child.attrib)
    ctx.defaults[name] = inherited
    for child in el:
        if child.tag == "default":
            _collect_defaults(child, ctx, name)


def _attrs(el, ctx: _Ctx, cls: str | None) -> dict:
    c = el.get("class") or cls or "main"
    out = dict(ctx.defaults.get("main", {}).get(el.tag, {}))
    out.update(ctx.defaults.get(c, {}).get(el.tag, {}))
    out.update(el.attrib)
    return out


def _geom_mesh(g: dict, ctx: _Ctx):
    import trimesh
    typ = g.get("type", "sphere")
    size = _vec(g.get("size"), 3, [0.05, 0.05, 0.05])
    if typ == "mesh":
        nm = g.get("mesh")
        if nm not in ctx.meshes:
            raise AssetReadError(ctx.path, f"geom references unknown mesh '{nm}'")
        f, scale = ctx.meshes[nm]
        return load_mesh_file(f, scale, source=ctx.path)
    if typ == "box":
        m = trimesh.creation.box(extents=2 * np.resize(size, 3))
    elif typ == "cylinder":
        m = trimesh.creation.cylinder(radius=size[0], height=2 * (size[1] if len(size) > 1 else size[0]), sections=16)
    elif typ == "capsule":
        m = trimesh.creation.capsule(radius=size[0], height=2 * (size[1] if len(size) > 1 else size[0]), count=[8, 8])
    elif typ == "sphere":
        m = trimesh.creation.icosphere(subdivisions=1, radius=size[0])
    elif typ == "ellipsoid":
        m = trimesh.creation.icosphere(subdivisions=1, radius=1.0)
        m.vertices = m.vertices * np.resize(size, 3)
    else:  # plane, hfield, sdf: not part geometry
        return None
    return np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64)


def read_mjcf(path, *, keep_static: bool = False) -> Articulation:
    """Parse an MJCF model into an Articulation (world frame, zero joint configuration)."""
    path = Path(path)
    if not path.exists():
        raise no_such_file(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise AssetReadError(path, f"not valid XML ({e})") from e
    if root.tag != "mujoco":
        raise AssetReadError(path, f"root element is <{root.tag}>, expected <mujoco>")
    ctx = _Ctx(path)
    _expand(root, ctx)
    for comp in root.iter("compiler"):
        if comp.get("angle"):
            ctx.angle_deg = comp.get("angle") != "radian"
        if comp.get("meshdir"):
            ctx.meshdir = comp.get("meshdir")
    for d in root.findall("default"):
        _collect_defaults(d, ctx, None)
    for asset in root.iter("asset"):
        for m in asset.findall("mesh"):
            f = m.get("file")
            if f is None:
                continue
            nm = m.get("name") or Path(f).stem
            base = ctx.base / ctx.meshdir if ctx.meshdir else ctx.base
            fp = Path(f) if Path(f).is_absolute() else base / f
            ctx.meshes[nm] = (fp, _vec(m.get("scale"), 3, [1, 1, 1]))
    wbs = root.findall("worldbody")  # includes may contribute several
    if not wbs:
        raise AssetReadError(path, "no <worldbody>")
    links: list[Link] = []
    joints: list[Joint] = []
    taken: set[str] = set()

    def has_joint(b):
        return any(True for _ in b.iter("joint")) or any(True for _ in b.iter("freejoint"))

    def visit(body, T_parent, parent_link, cls, name_hint):
        T = T_parent @ ctx.frame(body)
        cls = body.get("childclass") or cls
        name = sanitize_name(body.get("name") or name_hint, taken)
        vis, col = [], []
        for g in body.findall("geom"):
            a = _attrs(g, ctx, cls)
            vf = _geom_mesh(a, ctx)
            if vf is None:
                continue
            Tg = T @ ctx.frame(g)
            v = vf[0] @ Tg[:3, :3].T + Tg[:3, 3]
            (col if int(a.get("group", 0)) >= 3 else vis).append((v, vf[1]))
        mesh = _merge(vis or col)
        if mesh is not None:
            mesh.name = name
        links.append(Link(name, mesh))
        jels = body.findall("joint")
        movable = [j for j in jels if _attrs(j, ctx, cls).get("type", "hinge") in ("hinge", "slide")]
        if parent_link is not None:
            if not movable:
                joints.append(Joint(f"{name}_fixed", "fixed", parent_link, name, T[:3, 3].copy(), [1, 0, 0]))
            else:
                # several joints on one body: chain them through helper links without geometry
                prev = parent_link
                for k, j in enumerate(movable):
                    a = _attrs(j, ctx, cls)
                    typ = "revolute" if a.get("type", "hinge") == "hinge" else "prismatic"
                    pos = T[:3, :3] @ _vec(a.get("pos"), 3, [0, 0, 0]) + T[:3, 3]
                    axis = T[:3, :3] @ _vec(a.get("axis"), 3, [0, 0, 1])
                    rng = _vec(a.get("range"), 2, [0, 0])
                    limited = a.get("limited", "auto") != "false" and a.get("range") is not None
                    if typ == "revolute" and ctx.angle_deg:
                        rng = np.deg2rad(rng)
                    if typ == "revolute" and not limited:
                        typ = "continuous"
                        rng = np.array([-np.pi, np.pi])
                    child = name if k == len(movable) - 1 else f"{name}_helper{k}"
                    if child != name:
                        links.append(Link(child, None))
                    joints.append(Joint(sanitize_name(j.get("name") or f"{name}_joint{k}", taken), typ, prev, child,
                                        pos, axis, float(rng[0]), float(rng[1]), 1.0, {"source": "mjcf"}))
                    prev = child
        for k, b in enumerate(body.findall("body")):
            visit(b, T, name, cls, f"{name}_body{k}")

    world_link = "world"
    links.append(Link(world_link, None))
    n_top = 0
    for k, b in enumerate(b for wb in wbs for b in wb.findall("body")):
        if not keep_static and not has_joint(b):
            continue
        n_top += 1
        visit(b, np.eye(4), world_link, None, f"body{k}")
    # geoms directly in worldbody are static scenery; kept only with keep_static
    if n_top == 0:
        raise AssetReadError(path, "no body with a joint in <worldbody> (nothing articulated)")
    return Articulation(links, joints, name=sanitize_name(root.get("model") or path.stem))


def load_mjcf(path, *, keep_static: bool | None = None) -> Asset:
    """MJCF -> segmented rest-pose mesh (parts = rigid body groups), joints hidden on ``asset.articulation``.

    ``keep_static=None`` (auto): static scenery is dropped unless the articulated bodies alone form a single
    part (e.g. Metaworld's dial, whose only body turns against the table), then the scenery is the body.
    """
    art = read_mjcf(path, keep_static=bool(keep_static))
    asset = asset_from_articulation(art, path)
    if keep_static is None and asset.parts.n_parts < 2:
        asset = asset_from_articulation(read_mjcf(path, keep_static=True), path)
    return asset
