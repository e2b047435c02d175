"""Engine validation report for a rig or an exported file: ``ue5 | unity | gltf | omniverse``.

Every finding names what it is about (a bone, a vertex, a mesh) and the fix. Severities: ``error`` (the
engine import fails or the rig deforms wrongly), ``warning`` (imports, but not as the user expects),
``info`` (worth knowing). A report is *clean* when it has no errors and no warnings.

Checks: one root; root with zero rotation (UE/Unity); bone names unique (UE FNames are case-insensitive),
engine-safe characters, no bone named like a mesh; influences per vertex vs the target's limit (glTF 4 per
JOINTS set and most engines read one, Unity 4 by default, UE 8); weights normalized, no unweighted vertex;
bones per mesh section vs 256 (UE's 8-bit bone indices per section); units and up axis declared in the
file (FBX UnitScaleFactor/UpAxis, USD metersPerUnit/upAxis; glTF is metres/Y-up by spec) and a plausible
size; bind/rest pose present, finite, invertible and unscaled; zero-length bones (Blender and some
importers drop them); ``_end`` leaf bones.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidInputError

TARGETS = {
    # max_influences: what the engine keeps by default; section_bones: bones one mesh section may use
    "ue5": {"max_influences": 8, "section_bones": 256, "unit_m": 0.01, "up": "Z", "root_identity": True},
    "unity": {"max_influences": 4, "section_bones": 255, "unit_m": 1.0, "up": "Y", "root_identity": True},
    "gltf": {"max_influences": 4, "section_bones": 65535, "unit_m": 1.0, "up": "Y", "root_identity": False},
    "omniverse": {"max_influences": 8, "section_bones": 65535, "unit_m": None, "up": None, "root_identity": False},
}


@dataclass
class Finding:
    severity: str  # error | warning | info
    code: str
    message: str
    fix: str
    bone: str | None = None
    vertex: int | None = None
    mesh: str | None = None
    count: int | None = None


@dataclass
class Report:
    target: str
    path: str | None
    format: str
    findings: list[Finding] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def clean(self) -> bool:
        return not self.errors and not self.warnings

    def summary(self) -> str:
        if self.clean:
            n = len(self.findings)
            return "clean" + (f" ({n} note{'s' if n != 1 else ''})" if n else "")
        return f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"

    def to_dict(self) -> dict:
        return {"target": self.target, "path": self.path, "format": self.format, "clean": self.clean,
                "summary": self.summary(), "stats": self.stats, "findings": [asdict(f) for f in self.findings]}

    def write(self, path) -> Path:
        from ..util.atomic import atomic_path
        path = Path(path)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(self.to_dict(), indent=1, default=_json_default))
        return path

    def format_text(self) -> str:
        lines = [f"{self.path or 'rig'}: {self.target} {self.summary()}"]
        for f in self.findings:
            where = ", ".join(x for x in (f"bone '{f.bone}'" if f.bone else "", f"vertex {f.vertex}" if f.vertex is not None else "",
                                          f"mesh '{f.mesh}'" if f.mesh else "") if x)
            lines.append(f"  {f.severity:<7} {f.code}: {f.message}{' [' + where + ']' if where else ''}")
            lines.append(f"          fix: {f.fix}")
        return "\n".join(lines)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise InvalidInputError(f"unknown target {target!r} (use one of {', '.join(TARGETS)})", field="target")
    return target


def validate_rig(rig, target: str = "ue5", *, fmt: str = "rig", path: str | None = None, unit_m: float | None = None,
                 up_axis: str | None = None, mesh_names: list[str] | None = None,
                 raw_weight_sums: np.ndarray | None = None, file_notes: list[Finding] | None = None,
                 check_up: bool = True) -> Report:
    """Validate an in-memory Rig for ``target``; file-level facts (units, names of meshes) may be given."""
    import re
    check_target(target)
    T = TARGETS[target]
    rep = Report(target, path, fmt)
    add = rep.findings.append
    sk, skin, mesh = rig.skeleton, rig.skin, rig.mesh
    J = sk.n_joints
    names = list(sk.names)
    roots = [names[j] for j in np.flatnonzero(sk.parents < 0)]
    rep.stats.update(joints=J, vertices=int(mesh.n_vertices), faces=int(mesh.n_faces), roots=roots,
                     max_influences=int(skin.max_influences))
    if len(roots) != 1:
        add(Finding("error", "multiple_roots", f"{len(roots)} root bones: {roots[:6]}",
                    "parent every root under one bone (e.g. 'root') before export", bone=roots[0] if roots else None,
                    count=len(roots)))
    bind = sk.bind_world
    if not np.isfinite(bind).all() or not np.isfinite(sk.rest_local).all():
        j = int(np.flatnonzero(~np.isfinite(bind).reshape(J, -1).all(1) | ~np.isfinite(sk.rest_local).reshape(J, -1).all(1))[0])
        add(Finding("error", "rest_pose_invalid", "bind/rest transform is not finite", "re-rig or fix the joint transform",
                    bone=names[j]))
    else:
        det = np.linalg.det(bind[:, :3, :3])
        bad = np.flatnonzero(np.abs(det) < 1e-9)
        for j in bad[:3]:
            add(Finding("error", "rest_pose_singular", "bind transform is singular (zero scale)",
                        "give the joint a non-degenerate rest transform", bone=names[j]))
        scl = np.linalg.norm(bind[:, :3, :3], axis=1)
        sbad = np.flatnonzero((np.abs(scl - 1) > 1e-3).any(1) & (np.abs(det) >= 1e-9))
        if len(sbad):
            add(Finding("warning", "scaled_bones", f"{len(sbad)} bone(s) have a scaled bind transform",
                        "apply scale before export (engines expect unit-scale bones)", bone=names[sbad[0]], count=len(sbad)))
        if T["root_identity"] and len(roots) == 1:
            r = names.index(roots[0])
            if not np.allclose(bind[r, :3, :3], np.eye(3), atol=1e-4):
                add(Finding("warning", "root_rotated", f"root bone '{roots[0]}' has a non-zero rotation",
                            "keep the root at zero rotation (rotate the content, not the root)", bone=roots[0]))
    if "rest_missing" in rig.metadata:
        add(Finding("error", "rest_pose_missing", "the file has no rest pose", "export rest transforms", bone=None))
    # names
    low = {}
    for n in names:
        low.setdefault(n.lower(), []).append(n)
    for k, group in low.items():
        if len(group) > 1:
            add(Finding("error", "name_clash_bones", f"bone names differ only by case: {group}",
                        "rename bones so they are unique ignoring case (UE names are case-insensitive)", bone=group[0]))
    for mn in (mesh_names or [mesh.name]):
        if mn and mn.lower() in low:
            add(Finding("error", "name_clash_mesh", f"mesh '{mn}' has the same name as a bone",
                        "rename the mesh (e.g. '<name>_geo')", bone=low[mn.lower()][0], mesh=mn))
    pat = re.compile(r"^[A-Za-z0-9_]+$")
    odd = [n for n in names if not pat.match(n)]
    if odd and target in ("ue5", "unity"):
        add(Finding("warning", "bone_name_chars", f"{len(odd)} bone name(s) with characters engines rewrite: {odd[:4]}",
                    "use letters, digits and '_' (--naming ue5); UE strips namespaces like 'mixamorig:'",
                    bone=odd[0], count=len(odd)))
    ends = [n for n in names if n.endswith("_end")]
    if ends:
        add(Finding("info", "leaf_end_bones", f"{len(ends)} '_end' leaf bone(s)", "export without leaf bones unless needed",
                    bone=ends[0], count=len(ends)))
    # zero-length bones
    pos = bind[:, :3, 3]
    diag = float(np.linalg.norm(mesh.vertices.max(0) - mesh.vertices.min(0))) or 1.0
    zl = [j for j in range(J) if sk.parents[j] >= 0 and np.linalg.norm(pos[j] - pos[sk.parents[j]]) < 1e-6 * diag]
    if zl:
        add(Finding("warning", "zero_length_bone", f"{len(zl)} bone(s) sit exactly on their parent",
                    "move the joint off its parent or merge the two bones", bone=names[zl[0]], count=len(zl)))
    # weights
    w = skin.weights.astype(np.float64)
    nz = (w > 0).sum(1)
    lim = T["max_influences"]
    over = np.flatnonzero(nz > lim)
    rep.stats["influences_used"] = int(nz.max()) if len(nz) else 0
    if len(over):
        add(Finding("warning", "too_many_influences",
                    f"{len(over)} vertices have more than {lim} influences (max {int(nz.max())})",
                    f"limit to {lim} influences (--max-influences {lim})", vertex=int(over[0]), count=len(over)))
    sums = raw_weight_sums if raw_weight_sums is not None else w.sum(1)
    zero = np.flatnonzero(sums <= 1e-8)
    if len(zero):
        add(Finding("error", "unweighted_vertices", f"{len(zero)} vertices have no weight",
                    "give every vertex at least one influence (re-run the skinning)", vertex=int(zero[0]), count=len(zero)))
    notn = np.flatnonzero((np.abs(sums - 1) > 1e-3) & (sums > 1e-8))
    if len(notn):
        add(Finding("error", "weights_not_normalized", f"{len(notn)} vertices' weights do not sum to 1 "
                    f"(vertex {int(notn[0])}: {float(sums[notn[0]]):.4f})", "normalize weights per vertex",
                    vertex=int(notn[0]), count=len(notn)))
    used = np.unique(skin.indices[w > 0])
    rep.stats["bones_used"] = int(len(used))
    if len(used) > T["section_bones"]:
        add(Finding("error", "bones_per_section", f"the mesh uses {len(used)} bones, over {T['section_bones']} per section",
                    "split the mesh into sections or reduce bones (--max-bones)", mesh=mesh.name, count=int(len(used))))
    unused = [names[j] for j in range(J) if j not in set(used.tolist()) and sk.parents[j] >= 0 and len(sk.children(j)) == 0]
    if unused:
        add(Finding("info", "unweighted_leaf_bones", f"{len(unused)} leaf bone(s) drive no vertex",
                    "fine for IK/sockets; remove them if not needed", bone=unused[0], count=len(unused)))
    # size / units
    if unit_m is not None:
        up_v = np.asarray(rig.metadata.get("up", [0, 1, 0]), float)
        height = float((mesh.vertices @ up_v).max() - (mesh.vertices @ up_v).min()) * unit_m
        rep.stats["height_m"] = height
        if not 0.02 <= height <= 100.0:
            add(Finding("warning", "implausible_size", f"the mesh is {height:.3g} m tall in the file's units",
                        "check the unit scale (cm for UE/Unity FBX, m for glTF)", mesh=mesh.name))
    if check_up and up_axis is not None:
        _check_upright(rig, up_axis, add)
    for f in file_notes or []:
        add(f)
    return rep


def _check_upright(rig, up_axis: str, add) -> None:
    """A character whose detected up is not the file's up axis lies on its side (or upside down) in engines."""
    from ..autorig.frame import detect_frame
    m = rig.mesh
    try:
        fr = detect_frame(m.vertices, m.faces)
    except Exception:  # degenerate geometry: nothing to say about orientation
        return
    if fr.body not in ("biped", "quadruped"):
        return
    want = np.eye(3)[{"X": 0, "Y": 1, "Z": 2}[up_axis]]
    if fr.up @ want < 0.9:
        ax = "XYZ"[int(np.argmax(np.abs(fr.up)))]
        sign = "+" if fr.up[int(np.argmax(np.abs(fr.up)))] > 0 else "-"
        add(Finding("warning", "not_upright", f"the {fr.body} stands along {sign}{ax} but the file is {up_axis}-up",
                    "rotate it upright before export (articulate rig does this by default)", mesh=m.name))


def validate_file(path, target: str = "ue5") -> Report:
    """Read an exported rig (.glb/.gltf, .usd/.usda/.usdc/.usdz, .fbx) and validate it for ``target``."""
    from ..errors import AssetReadError, no_such_file
    check_target(target)
    path = Path(path)
    if not path.exists():
        raise no_such_file(path)
    ext = path.suffix.lower()
    T = TARGETS[target]
    notes: list[Finding] = []
    if ext in (".glb", ".gltf"):
        from ..io.gltf import load_gltf
        a = load_gltf(path)
        if a.rig is None:
            raise AssetReadError(path, "glTF has no skin to validate")
        rig, fmt, unit_m, up_axis = a.rig, "gltf", 1.0, "Y"
        mesh_names = _gltf_mesh_names(path)
        notes.append(Finding("info", "units", "glTF is metres, +Y up by specification",
                             "nothing to do: importers convert" if target != "gltf" else "nothing to do"))
        raw = None
    elif ext in (".usd", ".usda", ".usdc", ".usdz"):
        from exporters.validate import validate_usd
        from ..io.usdskel import read_rig_usd
        a = read_rig_usd(path)
        rig, fmt = a.rig, "usd"
        meta = rig.metadata["usd"]
        mesh_names, raw = meta["mesh_names"], meta["raw_weight_sums"]
        unit_m, up_axis = meta["meters_per_unit"], meta["up_axis"]
        for p in validate_usd(path):
            notes.append(Finding("error", "usd_validator", p, "fix the stage (OpenUSD validator)"))
        if not meta["has_up_axis"] or not meta["has_meters_per_unit"]:
            notes.append(Finding("warning", "units_undeclared", "stage does not author upAxis/metersPerUnit",
                                 "author both in the layer metadata"))
        if not meta["has_rest_transforms"]:
            rig.metadata["rest_missing"] = True
        if meta["skeletons"] > 1:
            notes.append(Finding("info", "skeletons", f"{meta['skeletons']} skeletons in the stage", "one per character is usual"))
        notes.append(Finding("info", "units", f"upAxis {meta['up_axis']}, metersPerUnit {meta['meters_per_unit']:g}",
                             "Omniverse/USD importers honour these" if target == "omniverse" else "engines convert on import"))
        rig.metadata.setdefault("up", [0, 1, 0] if meta["up_axis"] == "Y" else [0, 0, 1])
    elif ext == ".fbx":
        from ..io.fbx import read_fbx
        a = read_fbx(path, animations=False)
        if a.rig is None:
            raise AssetReadError(path, "FBX has no armature to validate")
        rig, fmt = a.rig, "fbx"
        ex = rig.metadata["fbx"]
        gs = ex["global_settings"]
        mesh_names, raw = ex["mesh_names"], rig.metadata["raw_weight_sums"]
        usf = gs.get("UnitScaleFactor")
        unit_m, up_axis = 1.0, "Y"  # the reader converts to metres, Y-up
        if usf is None:
            notes.append(Finding("warning", "units_undeclared", "no UnitScaleFactor in the FBX GlobalSettings",
                                 "export a binary FBX with units"))
        elif target in ("ue5", "unity") and abs(usf - 1.0) > 1e-6:
            notes.append(Finding("warning", "units", f"FBX unit is {usf:g} cm, {target} expects centimetres",
                                 "export with unit='cm' (the default for ue5/unity)"))
        else:
            notes.append(Finding("info", "units", f"FBX UnitScaleFactor {usf:g} (cm), UpAxis {gs.get('UpAxis')}",
                                 "nothing to do: the importer converts axes"))
        arms = ex["armature_names"]
        if arms and arms[0] != "Armature" and target == "ue5":
            notes.append(Finding("warning", "extra_root", f"armature object '{arms[0]}' becomes an extra root bone in UE",
                                 "name the armature object 'Armature' (exporters.fbx does)", bone=arms[0]))
    else:
        raise InvalidInputError(f"cannot validate '{ext}' files (use .glb/.gltf, .usd/.usda/.usdc/.usdz or .fbx)", field="input")
    return validate_rig(rig, target, fmt=fmt, path=str(path), unit_m=unit_m, up_axis=up_axis, mesh_names=mesh_names,
                        raw_weight_sums=raw, file_notes=notes)


def _gltf_mesh_names(path) -> list[str]:
    import pygltflib
    g = pygltflib.GLTF2().load(str(path))
    return [m.name for m in g.meshes if m.name] + [n.name for n in g.nodes if n.mesh is not None and n.name]


__all__ = ["Finding", "Report", "TARGETS", "validate_file", "validate_rig"]
