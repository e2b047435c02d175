"""Triangle mesh with per-vertex part labels, and its validation."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InvalidInputError
from .look import Look


@dataclass
class Mesh:
    vertices: np.ndarray  # [V, 3] float64
    faces: np.ndarray  # [F, 3] int64
    name: str = "mesh"
    uvs: np.ndarray | None = None  # [V, 2] float32
    dropped_faces: np.ndarray | None = None  # [D] int64: faces of the validated input that validate() dropped
    look: Look | None = None  # further UV sets, normals, tangents, colours, materials, textures, primitives

    def __post_init__(self):
        self.vertices = np.asarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        self.faces = np.asarray(self.faces, dtype=np.int64).reshape(-1, 3)

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    @property
    def n_faces(self) -> int:
        return len(self.faces)

    @property
    def bbox_diagonal(self) -> float:
        if not len(self.vertices):
            return 0.0
        return float(np.linalg.norm(self.vertices.max(0) - self.vertices.min(0)))

    def submesh(self, faces: np.ndarray, name: str | None = None) -> "Mesh":
        """The faces ``faces`` (bool [F] or ids) with only the vertices they use (in index order), their uvs and
        look."""
        f = self.faces[faces]
        used = np.unique(f)
        remap = np.full(self.n_vertices, -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        return Mesh(self.vertices[used], remap[f], name=self.name if name is None else name,
                    uvs=None if self.uvs is None else self.uvs[used],
                    look=None if self.look is None else self.look.subset(used, faces))

    def validate(self, source: str | None = None, *, drop_degenerate: bool = True) -> "Mesh":
        """Check the mesh; raise InvalidInputError naming the problem.

        Never mutates ``self``: returns ``self`` when the mesh is clean; when there are degenerate faces (repeated
        vertex index or zero area) and ``drop_degenerate``, returns a new Mesh without them whose ``dropped_faces``
        lists their indices; otherwise they are an error. Use the returned mesh.
        """
        v, f = self.vertices, self.faces
        if len(v) == 0:
            raise InvalidInputError("mesh has no vertices", field="vertices", source=source)
        if len(f) == 0:
            raise InvalidInputError("mesh has no faces", field="faces", source=source)
        bad = ~np.isfinite(v).all(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(f"vertex {i} is not finite ({v[i].tolist()}); {int(bad.sum())} such vertices",
                                    field=f"vertices[{i}]", source=source)
        if self.uvs is not None and len(self.uvs) != len(v):
            raise InvalidInputError(f"mesh has {len(self.uvs)} uvs for {len(v)} vertices", field="uvs", source=source)
        if self.look is not None:
            self.look.validate(len(v), len(f), source)
        if f.min() < 0 or f.max() >= len(v):
            i = int(np.flatnonzero((f < 0).any(1) | (f >= len(v)).any(1))[0])
            raise InvalidInputError(f"face {i} references vertex out of range {f[i].tolist()} (mesh has {len(v)} vertices)",
                                    field=f"faces[{i}]", source=source)
        same = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])
        a, b = v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]
        cx = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]  # cross product by component (np.cross is ~5x slower)
        cy = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
        cz = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
        area2 = np.sqrt(cx * cx + cy * cy + cz * cz)
        scale = max(self.bbox_diagonal, 1e-30)
        degenerate = same | (area2 <= 1e-14 * scale * scale)
        dropped = np.flatnonzero(degenerate)
        if degenerate.all():
            raise InvalidInputError("every face is degenerate (zero area)", field="faces", source=source)
        if degenerate.any():
            if not drop_degenerate:
                i = int(dropped[0])
                raise InvalidInputError(f"face {i} is degenerate", field=f"faces[{i}]", source=source)
            look = self.look.select_faces(~degenerate) if self.look is not None else None
            return replace(self, faces=f[~degenerate], dropped_faces=dropped, look=look)
        return self


@dataclass
class PartLabels:
    """Per-vertex part ids in [0, P) with human-readable part names."""

    labels: np.ndarray  # [V] int64, -1 = unlabelled
    names: list[str] = field(default_factory=list)
    joint_of_part: np.ndarray | None = None  # [P] int64: the skin joint each part comes from (parts from a skin)

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if not self.names:
            n = int(self.labels.max()) + 1 if len(self.labels) and self.labels.max() >= 0 else 0
            self.names = [f"part_{i}" for i in range(n)]

    @property
    def n_parts(self) -> int:
        return len(self.names)

    def validate(self, n_vertices: int, source: str | None = None, *, allow_unlabelled: bool = True) -> "PartLabels":
        lab = self.labels
        if len(lab) != n_vertices:
            raise InvalidInputError(f"part labels have {len(lab)} entries but the mesh has {n_vertices} vertices",
                                    field="parts", source=source)
        bad = (lab >= self.n_parts) | (lab < -1) | ((lab == -1) & (not allow_unlabelled))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(f"vertex {i} has part label {int(lab[i])} out of range [0, {self.n_parts})",
                                    field=f"parts[{i}]", source=source)
        counts = np.bincount(lab[lab >= 0], minlength=self.n_parts)
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            p = int(empty[0])
            raise InvalidInputError(f"part {p} ('{self.names[p]}') has no vertices", field=f"part {p}", source=source)
        if self.n_parts == 0:
            raise InvalidInputError("no parts given", field="parts", source=source)
        return self

    @staticmethod
    def from_face_labels(faces: np.ndarray, face_labels: np.ndarray, n_vertices: int,
                         names: list[str] | None = None) -> "PartLabels":
        """Vertex label = the most frequent label among its incident faces."""
        face_labels = np.asarray(face_labels, dtype=np.int64)
        n_parts = int(face_labels.max()) + 1
        counts = np.zeros((n_vertices, n_parts), dtype=np.int64)
        for c in range(3):
            np.add.at(counts, (faces[:, c], face_labels), 1)
        lab = np.where(counts.sum(1) > 0, counts.argmax(1), -1)
        return PartLabels(lab, names or [])
