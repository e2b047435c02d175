"""URDF reader: links become parts (rigid groups), joints are kept as hidden ground truth.

``read_urdf(path) -> Articulation`` gives every link's visual geometry in the object (world) frame at
the zero configuration and every joint with its pivot and axis in that frame.
``load_urdf(path) -> Asset`` turns it into a segmented mesh (one part per rigid group of links, links
joined by ``fixed`` joints are merged) and hangs the ground truth on ``asset.articulation``, so a
method can be evaluated on rest geometry with the joints hidden.

Mesh paths: relative to the URDF's folder; ``package://NAME/rest`` is resolved relative to the package
folder, found by walking up from the URDF to a folder named NAME (or containing ``package.xml`` with
that name). A missing mesh file is an AssetReadError naming the file.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from ..core import Articulation, Joint, Link, Mesh, PartLabels, sanitize_name
from ..errors import AssetReadError, no_such_file
from .asset import Asset


def rpy_matrix(rpy) -> np.ndarray:  # [3] -> [3, 3]  URDF fixed-axis roll-pitch-yaw: Rz(y) Ry(p) Rx(r)
    r, p, y = (float(v) for v in rpy)
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _floats(s, n, default):
    if s is None:
        return np.array(default, dtype=np.float64)
    v = np.array([float(x) for x in s.split()], dtype=np.float64)
    if len(v) == 1 and n > 1:
        v = np.repeat(v, n)
    return v


def _origin(el) -> np.ndarray:  # [4, 4]
    m = np.eye(4)
    o = el.find("origin") if el is not None else None
    if o is not None:
        m[:3, :3] = rpy_matrix(_floats(o.get("rpy"), 3, [0, 0, 0]))
        m[:3, 3] = _floats(o.get("xyz"), 3, [0, 0, 0])
    return m


def resolve_mesh_path(filename: str, urdf_path: Path) -> Path:
    """Resolve a URDF/MJCF mesh reference (relative, absolute, file:// or package://)."""
    base = urdf_path.parent
    if filename.startswith("file://"):
        filename = filename[len("file://"):]
    if filename.startswith("package://"):
        rest = filename[len("package://"):]
        pkg, _, sub = rest.partition("/")
        for d in [base, *base.parents]:
            if d.name == pkg:
                return d / sub
            px = d / "package.xml"
            if px.exists() and f"<name>{pkg}</name>" in px.read_text(errors="replace"):
                return d / sub
            if (d / pkg).is_dir():
                return d / pkg / sub
        return base / pkg / sub  # reported as missing by the caller
    p = Path(filename)
    return p if p.is_absolute() else base / p


def load_mesh_file(path: Path, scale=None, *, source: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vertices [V,3], faces [F,3] of an OBJ/STL/PLY/DAE file via trimesh; missing -> AssetReadError."""
    if not path.exists():
        where = f" (referenced by {source})" if source is not None else ""
        raise AssetReadError(path, f"mesh file is missing{where}")
    import trimesh
    try:
        kw = {"skip_materials": True} if path.suffix.lower() == ".obj" else {}
        tm = trimesh.load(str(path), force="mesh", process=False, **kw)
    except Exception as e:  # noqa: BLE001 - any parser failure is a read error
        raise AssetReadError(path, f"mesh could not be read ({type(e).__name__}: {e})") from e
    v = np.asarray(getattr(tm, "vertices", np.zeros((0, 3))), dtype=np.float64).reshape(-1, 3)
    f = np.asarray(getattr(tm, "faces", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    if scale is not None:
        v = v * np.asarray(scale, dtype=np.float64).reshape(-1)[:3]
    return v, f


def _primitive(geom_el) -> tuple[np.ndarray, np.ndarray] | None:
    import trimesh
    for child in geom_el:
        if child.tag == "box":
            m = trimesh.creation.box(extents=_floats(child.get("size"), 3, [1, 1, 1]))
        elif child.tag == "cylinder":
            m = trimesh.creation.cylinder(radius=float(child.get("radius", 0.1)), height=float(child.get("length", 0.1)),
                                          sections=16)
        elif child.tag == "sphere":
            m = trimesh.creation.icosphere(subdivisions=1, radius=float(child.get("radius", 0.1)))
        else:
            continue
        return np.asarray(m.vertices, dtype=np.float64), np.asarray(m.faces, dtype=np.int64)
    return None


def _merge(pieces):
    if not pieces:
        return None
    vs, fs, n = [], [], 0
    for v, f in pieces:
        vs.append(v)
        fs.append(f + n)
        n += len(v)
    return Mesh(np.concatenate(vs), np.concatenate(fs))


def read_urdf(path, *, load_meshes: bool = True, use_collision: bool = False) -> Articulation:
    """Parse a URDF into an Articulation in the world frame at the zero configuration."""
    path = Path(path)
    if not path.exists():
        raise no_such_file(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise AssetReadError(path, f"not valid XML ({e})") from e
    if root.tag != "robot":
        raise AssetReadError(path, f"root element is <{root.tag}>, expected <robot>")
    link_els = {l.get("name"): l for l in root.findall("link")}
    joint_els = root.findall("joint")
    parent_of: dict[str, tuple[str, ET.Element]] = {}
    for j in joint_els:
        p, c = j.find("parent"), j.find("child")
        if p is None or c is None:
            raise AssetReadError(path, f"joint '{j.get('name')}' lacks <parent> or <child>")
        for nm in (p.get("link"), c.get("link")):
            if nm not in link_els:
                raise AssetReadError(path, f"joint '{j.get('name')}' references unknown link '{nm}'")
        parent_of[c.get("link")] = (p.get("link"), j)
    world: dict[str, np.ndarray] = {}

    def link_world(name, depth=0):
        if name in world:
            return world[name]
        if depth > len(link_els):
            raise AssetReadError(path, f"kinematic loop at link '{name}'")
        if name not in parent_of:
            world[name] = np.eye(4)
        else:
            pname, jel = parent_of[name]
            world[name] = link_world(pname, depth + 1) @ _origin(jel)
        return world[name]

    links = []
    tag = "collision" if use_collision else "visual"
    for name, el in link_els.items():
        T = link_world(name)
        mesh = None
        if load_meshes:
            pieces = []
            for vis in el.findall(tag):
                g = vis.find("geometry")
                if g is None:
                    continue
                To = T @ _origin(vis)
                m = g.find("mesh")
                if m is not None:
                    fn = m.get("filename")
                    if not fn:
                        raise AssetReadError(path, f"link '{name}': <mesh> without filename")
                    v, f = load_mesh_file(resolve_mesh_path(fn, path), _floats(m.get("scale"), 3, [1, 1, 1]), source=path)
                else:
                    vf = _primitive(g)
                    if vf is None:
                        continue
                    v, f = vf
                if len(v) == 0:
                    continue
                v = v @ To[:3, :3].T + To[:3, 3]
                pieces.append((v, f))
            mesh = _merge(pieces)
            if mesh is not None:
                mesh.name = name
        links.append(Link(name, mesh))
    joints = []
    for j in joint_els:
        c = j.find("child").get("link")
        p = j.find("parent").get("link")
        T = link_world(c)  # joint frame == child link frame
        ax = j.find("axis")
        a_local = _floats(ax.get("xyz") if ax is not None else None, 3, [1, 0, 0])
        jt = j.get("type", "fixed")
        if jt == "floating" or jt == "planar":
            jt = "fixed" if jt == "floating" else jt
        lim = j.find("limit")
        lo = float(lim.get("lower", 0.0)) if lim is not None else 0.0
        hi = float(lim.get("upper", 0.0)) if lim is not None else 0.0
        if jt == "continuous":
            lo, hi = -np.pi, np.pi
        joints.append(Joint(j.get("name"), jt if jt in ("revolute", "prismatic", "continuous", "fixed") else "fixed",
                            p, c, T[:3, 3].copy(), T[:3, :3] @ a_local, lo, hi, 1.0,
                            {"source": "urdf"}))
    return Articulation(links, joints, name=sanitize_name(root.get("name") or path.stem))


def rigid_groups(art: Articulation) -> dict[str, str]:
    """Map each link to the link heading its rigid group (links joined by fixed joints are one body)."""
    parent = {j.child: (j.parent, j.type) for j in art.joints}
    head = {}
    for l in art.links:
        n = l.name
        while n in parent and parent[n][1] == "fixed":
            n = parent[n][0]
        head[l.name] = n
    return head


def asset_from_articulation(art: Articulation, path=None, *, source: str | None = None) -> Asset:
    """One mesh with one part per rigid group that has geometry; ground truth kept on ``asset.articulation``.

    ``asset.part_links[name]`` lists the links merged into each part; ``asset.gt_joints`` maps a part name to
    the movable joints that move it relative to its parent part (helper links without geometry are walked
    through, so a screw cap's prismatic + continuous pair both map to the cap).
    """
    head = rigid_groups(art)
    groups: dict[str, list[Link]] = {}
    for l in art.links:
        if l.mesh is not None and l.mesh.n_faces:
            groups.setdefault(head[l.name], []).append(l)
    if not groups:
        raise AssetReadError(path or art.name, "no link has geometry")
    vs, fs, labels, names, n = [], [], [], [], 0
    part_links = {}
    pname = {}
    taken: set[str] = set()
    for h, ls in groups.items():  # a group is named after its head link, or its first link with geometry
        has = any(l.name == h for l in ls)
        pname[h] = h if has else ls[0].name
    for pi, (h, ls) in enumerate(groups.items()):
        for l in ls:
            vs.append(l.mesh.vertices)
            fs.append(l.mesh.faces + n)
            labels.append(np.full(l.mesh.n_vertices, pi))
            n += l.mesh.n_vertices
        names.append(pname[h])
        part_links[pname[h]] = [l.name for l in ls]
    mesh = Mesh(np.concatenate(vs), np.concatenate(fs), name=art.name)
    asset = Asset(Path(path) if path else None, mesh, PartLabels(np.concatenate(labels), names))
    # movable joints per part: walk up from the part's head link through joints until a link with geometry
    parent = {j.child: j for j in art.joints}
    gt, gt_parent = {}, {}
    for h in groups:
        chain, n_, up = [], h, None
        while n_ in parent:
            j = parent[n_]
            if j.type != "fixed":
                chain.append(j)
            n_ = head[j.parent]
            if n_ in groups:
                up = pname[n_]
                break
        gt[pname[h]] = chain
        gt_parent[pname[h]] = up
    asset.articulation = art
    asset.part_links = part_links
    asset.gt_joints = gt
    asset.gt_parent = gt_parent
    return asset


def load_urdf(path) -> Asset:
    """URDF -> segmented rest-pose mesh (parts = rigid link groups), joints hidden on ``asset.articulation``."""
    art = read_urdf(path)
    return asset_from_articulation(art, path)
