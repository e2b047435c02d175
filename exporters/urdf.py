"""URDF writer for sdk.core.Articulation; ``sdk.io.urdf.read_urdf`` reads the output back.

Layout: ``OUT.urdf`` plus ``OUT_meshes/<link>.obj`` (relative paths; a link with a look also gets ``<link>.mtl`` and
its textures in ``OUT_meshes/textures/``, see ``exporters.obj.write_obj_look``). Every link frame is unrotated and sits at
the joint origin that moves it (the root at the world origin); each link's visual (and collision) mesh is
stored in world coordinates at rest with a visual origin of minus the link position, so the rest geometry
round-trips exactly. Joint axes are given in the (unrotated) joint frame, i.e. the world axis. Revolute limits
are radians, prismatic limits length units; continuous joints carry no limit; confidence goes into a comment.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from sdk.core import Articulation
from sdk.util.atomic import atomic_path, atomic_write_text


def _fmt(v) -> str:
    return " ".join(f"{float(x):.9g}" for x in np.asarray(v).reshape(-1))


def _obj_text(mesh) -> str:
    from .obj import obj_text
    return obj_text(mesh.vertices, mesh.faces, precision=".9g")


def link_positions(art: Articulation) -> dict[str, np.ndarray]:
    """World position of each link frame: the origin of the joint that moves it (root: 0)."""
    pos = {l.name: np.zeros(3) for l in art.links}
    for j in art.joints:
        pos[j.child] = np.asarray(j.origin, dtype=np.float64).copy()
    return pos


def write_urdf(art: Articulation, path) -> Path:
    path = Path(path)
    mesh_dir = path.with_name(path.stem + "_meshes")
    pos = link_positions(art)
    robot = ET.Element("robot", name=art.name or "object")
    for l in art.links:
        le = ET.SubElement(robot, "link", name=l.name)
        if l.mesh is None or l.mesh.n_faces == 0:
            continue
        rel = f"{mesh_dir.name}/{l.name}.obj"
        if l.mesh.look is not None or l.mesh.uvs is not None:  # OBJ + MTL + textures (shared by the links)
            from .obj import write_obj_look
            write_obj_look(l.mesh, mesh_dir / f"{l.name}.obj", texture_dir=mesh_dir / "textures")
        else:
            atomic_write_text(mesh_dir / f"{l.name}.obj", _obj_text(l.mesh))
        for tag in ("visual", "collision"):
            ve = ET.SubElement(le, tag)
            ET.SubElement(ve, "origin", xyz=_fmt(-pos[l.name]), rpy="0 0 0")
            ge = ET.SubElement(ve, "geometry")
            ET.SubElement(ge, "mesh", filename=rel)
        ine = ET.SubElement(le, "inertial")
        ET.SubElement(ine, "mass", value="1.0")
        ET.SubElement(ine, "inertia", ixx="0.01", iyy="0.01", izz="0.01", ixy="0", ixz="0", iyz="0")
    for j in art.joints:
        je = ET.SubElement(robot, "joint", name=j.name, type=j.type if j.type != "spherical" else "fixed")
        robot.insert(list(robot).index(je), ET.Comment(f" {j.name}: confidence {j.confidence:.3f} "))
        ET.SubElement(je, "parent", link=j.parent)
        ET.SubElement(je, "child", link=j.child)
        ET.SubElement(je, "origin", xyz=_fmt(pos[j.child] - pos[j.parent]), rpy="0 0 0")
        if j.type in ("revolute", "prismatic", "continuous"):
            ET.SubElement(je, "axis", xyz=_fmt(j.axis))
        if j.type in ("revolute", "prismatic"):
            ET.SubElement(je, "limit", lower=f"{j.lower:.9g}", upper=f"{j.upper:.9g}", effort="100", velocity="1")
    ET.indent(robot, "  ")
    text = '<?xml version="1.0"?>\n' + ET.tostring(robot, encoding="unicode") + "\n"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    return path
