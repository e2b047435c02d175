"""The format registry: every file format the SDK reads or writes, declared once.

A :class:`Format` names its suffixes, its reader of assets (mesh + parts + rig), its reader of mesh sequences
(4D caches) and one writer per kind of object (``"rig"``, ``"articulation"``, ``"sequence"``). Readers live in
``sdk/io/<format>.py``, writers in ``exporters/<format>.py``; this file only wires them up (lazily, so no heavy
import happens before a file of that format is touched). The CLI, the server, the client and the facade ask the
registry (:func:`load_asset`, :func:`load_sequence`, :func:`save`, :func:`suffixes`, :func:`check_output`)
instead of comparing suffixes themselves.

Adding a format (FBX, Alembic, a Gaussian-splat file) = one reader or writer module + one ``register(Format(...))``
line at the bottom of this file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import ArticulateError, AssetReadError, InvalidInputError, no_such_file, is_a_directory

#: object kinds a writer can take, by the class name of the object
KINDS = {"Rig": "rig", "Articulation": "articulation", "MeshSequence": "sequence", "MeshFrames": "sequence", "Mesh": "mesh"}


@dataclass(frozen=True)
class Format:
    name: str
    suffixes: tuple[str, ...]                      # lower case, with the dot
    description: str
    read_asset: Callable | None = None             # (path, **kw) -> sdk.io.Asset
    read_sequence: Callable | None = None          # (path, **kw) -> sdk.core.MeshSequence
    writers: dict[str, Callable] = field(default_factory=dict)  # kind -> (obj, path, **opts) -> Path
    read_labels: Callable | None = None            # (path) -> integer array (per-vertex or per-face part labels)
    write_suffixes: tuple[str, ...] | None = None  # suffixes the writers accept (default: all of ``suffixes``)
    uploadable: bool = True                        # one self-contained file a client can upload to the server
    scene_options: tuple[str, ...] = ()            # stage metadata its writers take (up_axis, meters_per_unit)
    up_axis: str = "y"                             # the format's convention when a file does not say (robotics: z)
    kind_suffixes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # extra suffixes one kind's writer takes


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    for s in fmt.suffixes:
        other = next((f for f in FORMATS.values() if s in f.suffixes and f.name != fmt.name), None)
        if other is not None:
            raise ValueError(f"suffix {s} of format {fmt.name} is already taken by {other.name}")
    FORMATS[fmt.name] = fmt
    return fmt


def by_suffix(path) -> Format | None:
    s = Path(path).suffix.lower()
    return next((f for f in FORMATS.values() if s in f.suffixes), None)


def suffixes(role: str, *, upload: bool = False) -> tuple[str, ...]:
    """Suffixes that support a role: ``"asset"``, ``"sequence"`` or a writer kind (``"rig"``, ...); with
    ``upload`` only the formats a client can send as one file."""
    out = []
    for f in FORMATS.values():
        if _supports(f, role) and (f.uploadable or not upload):
            out.extend((f.write_suffixes or f.suffixes) + f.kind_suffixes.get(role, ())
                       if role not in ("asset", "sequence") else f.suffixes)
    return tuple(out)


def _supports(f: Format, role: str) -> bool:
    if role == "asset":
        return f.read_asset is not None
    if role == "sequence":
        return f.read_sequence is not None
    return role in f.writers


def _names(role: str) -> str:
    return ", ".join(s for s in suffixes(role))


def check_output(path, kind: str, *, field: str = "output") -> Format:
    """The format that writes ``kind`` to ``path``; InvalidInputError naming the allowed suffixes otherwise."""
    f = by_suffix(path)
    if f is None or kind not in f.writers or \
            Path(path).suffix.lower() not in (f.write_suffixes or f.suffixes) + f.kind_suffixes.get(kind, ()):
        raise InvalidInputError(f"unknown output format '{Path(path).suffix}' for a {kind} (use {_names(kind)})",
                                field=field)
    return f


def check_input(path, role: str = "asset", *, field: str = "input", upload: bool = False) -> Format:
    """The format that reads ``path`` for ``role``; InvalidInputError naming the allowed suffixes otherwise."""
    f = by_suffix(path)
    if f is None or not _supports(f, role) or (upload and not f.uploadable):
        raise InvalidInputError(f"'{Path(path).name}' has unsupported extension '{Path(path).suffix.lower()}' "
                                f"(use {', '.join(suffixes(role, upload=upload))})", field=field)
    return f


def scene_options(path, **options) -> dict:
    """The subset of scene-level options (``up_axis``, ``meters_per_unit``) that the format of ``path`` records;
    formats with fixed conventions (glTF: Y up, metres) take none."""
    f = by_suffix(path)
    return {k: v for k, v in options.items() if f is not None and k in f.scene_options and v is not None}


def up_axis_of(path) -> str:
    """"x" | "y" | "z": the up axis convention of ``path``'s format ("y" when unknown)."""
    f = by_suffix(path) if path is not None else None
    return f.up_axis if f is not None else "y"


def _existing_file(path: Path) -> None:
    if not path.exists():
        raise no_such_file(path)
    if path.is_dir():
        raise is_a_directory(path, "a mesh file")
    if path.stat().st_size == 0:
        raise AssetReadError(path, "file is empty")


def load_asset(path, **kw):
    """Read any supported mesh / parts / rig file by its format."""
    path = Path(path)
    _existing_file(path)
    f = by_suffix(path)
    if f is None or f.read_asset is None:
        raise AssetReadError(path, f"unknown suffix '{path.suffix.lower() or '(none)'}' for an asset (use glTF/GLB, OBJ, PLY, USD, URDF, MJCF)")
    return f.read_asset(path, **kw)


def load_sequence(path, *, clip: str | None = None, mesh=None, fps: float | None = None):
    """Read any supported mesh sequence: a folder of frames or a file whose format has a sequence reader."""
    path = Path(path)
    if not path.exists():
        raise no_such_file(path)
    if path.is_dir():
        from .sequence import load_frames_folder
        return load_frames_folder(path, fps or 30.0)
    f = by_suffix(path)
    if f is None or f.read_sequence is None:
        raise AssetReadError(path, f"unsupported sequence input '{path.suffix.lower()}' (glTF/GLB clip, folder of "
                                   f"OBJ/PLY frames, USD time-sampled points, .npy trajectories [N,T,3], .npz)")
    return f.read_sequence(path, clip=clip, mesh=mesh, fps=fps)


def load_labels(path):
    """A per-vertex or per-face integer label array: a format's label reader (.npy), else whitespace text."""
    if not Path(path).is_file():
        raise AssetReadError(path, "no such part-label file")
    f = by_suffix(path)
    try:
        if f is not None and f.read_labels is not None:
            return f.read_labels(Path(path))
        import numpy as np
        return np.loadtxt(path, dtype=np.int64)
    except ArticulateError:
        raise
    except (ValueError, OSError) as e:
        raise AssetReadError(path, f"not a part-label file (.npy or text of integers): {e}") from None


def save(obj, path, **options) -> Path:
    """Write a Rig, an Articulation or a MeshSequence in the format of ``path``'s suffix (atomically)."""
    kind = next((KINDS[c.__name__] for c in type(obj).__mro__ if c.__name__ in KINDS), None)
    if kind is None:
        raise TypeError(f"no writer for {type(obj).__name__}; the registry writes {', '.join(KINDS)}")
    return check_output(path, kind).writers[kind](obj, Path(path), **options)


# ------------------------------------------------------------------------------------------- the formats
def _gltf_asset(path, **kw):
    from .gltf import load_gltf
    return load_gltf(path, **kw)


def _gltf_sequence(path, *, clip=None, mesh=None, fps=None):
    from .sequence import load_gltf_clip
    return load_gltf_clip(path, clip, fps or 30.0)


def _gltf_rig(rig, path, **opts):
    from exporters.gltf import write_rig_gltf
    return write_rig_gltf(rig, path, **opts)


def _obj_asset(path, **kw):
    from .asset import load_obj
    return load_obj(path)


def _obj_mesh(mesh, path, **opts):
    if mesh.look is not None or mesh.uvs is not None:  # OBJ + MTL + textures
        from exporters.obj import write_obj_look
        return write_obj_look(mesh, path, **opts)
    from exporters.obj import write_obj
    return write_obj(mesh.vertices, mesh.faces, path, **opts)


def _ply_asset(path, **kw):
    from .asset import load_ply
    return load_ply(path)


def _usd_asset(path, **kw):
    from .asset import load_usd_mesh
    return load_usd_mesh(path)


def _usd_sequence(path, *, clip=None, mesh=None, fps=None):
    from .sequence import load_usd_points
    return load_usd_points(path, fps, clip)


def _usd_rig(rig, path, **opts):
    from exporters.usd import write_rig_usd
    return write_rig_usd(rig, path, **opts)


def _usd_articulation(art, path, *, validate: bool = True, **opts):
    from exporters.physics_usd import validate_physics_usd, write_physics_usd
    out = write_physics_usd(art, path, **opts)
    if validate:
        import logging
        for pr in validate_physics_usd(out):
            logging.getLogger(__name__).warning("USD validator: %s", pr)
    return out


def _urdf_asset(path, **kw):
    from .urdf import load_urdf
    return load_urdf(path)


def _urdf_articulation(art, path, **opts):
    from exporters.urdf import write_urdf
    return write_urdf(art, path)


def _mjcf_asset(path, **kw):
    from .mjcf import load_mjcf
    return load_mjcf(path)


def _npy_sequence(path, *, clip=None, mesh=None, fps=None):
    from .sequence import load_trajectories
    return load_trajectories(path, mesh, fps or 30.0)


def _npz_sequence(path, *, clip=None, mesh=None, fps=None):
    from .sequence import load_npz
    s = load_npz(path)
    if fps:
        s.fps = fps
    return s


def _npz_rig(rig, path, **opts):
    from exporters.npz import write_rig_npz
    return write_rig_npz(rig, path)


def _npz_seq(seq, path, **opts):
    from exporters.npz import write_sequence_npz
    return write_sequence_npz(seq, path)


def _gltf_cache(seq, path, **opts):  # a morph-target flipbook: the portable mesh cache
    from exporters.gltf_morph import write_mesh_cache_gltf
    return write_mesh_cache_gltf(seq, path, **opts)


def _usd_cache(seq, path, **opts):  # time-sampled points (fixed topology) or value clips (varying topology)
    from exporters.usd_cache import write_mesh_cache_usd
    return write_mesh_cache_usd(seq, path, **opts)


def _fbx_asset(path, **kw):
    from .fbx import read_fbx
    return read_fbx(path)


def _fbx_rig(rig, path, **opts):
    from exporters.fbx import write_rig_fbx
    return write_rig_fbx(rig, path, **opts)


def _abc_cache(seq, path, **opts):
    from exporters.alembic import write_mesh_cache_alembic
    return write_mesh_cache_alembic(seq, path, **opts)


register(Format("gltf", (".gltf", ".glb"), "glTF 2.0 (skins, animations, Draco)", _gltf_asset, _gltf_sequence,
                {"rig": _gltf_rig, "sequence": _gltf_cache}))
register(Format("obj", (".obj",), "Wavefront OBJ (groups become parts; vt/vn/usemtl + MTL textures)", _obj_asset, writers={"mesh": _obj_mesh}))
register(Format("ply", (".ply",), "PLY (per-vertex part labels)", _ply_asset))
register(Format("usd", (".usd", ".usda", ".usdc", ".usdz"), "OpenUSD (UsdSkel rigs, UsdPhysics articulations, "
                "time-sampled points)", _usd_asset, _usd_sequence,
                {"rig": _usd_rig, "articulation": _usd_articulation, "sequence": _usd_cache},
                write_suffixes=(".usd", ".usda", ".usdc"),
                scene_options=("up_axis", "meters_per_unit"), kind_suffixes={"rig": (".usdz",)}))  # packaged rigs
register(Format("urdf", (".urdf",), "URDF (links become parts)", _urdf_asset, None,
                {"articulation": _urdf_articulation}, uploadable=False, up_axis="z"))   # references mesh files
register(Format("mjcf", (".xml", ".mjcf"), "MuJoCo MJCF (bodies become parts)", _mjcf_asset, uploadable=False,
                up_axis="z"))
register(Format("fbx", (".fbx",), "Autodesk FBX through Blender's importer/exporter (extra [fbx])", _fbx_asset,
                writers={"rig": _fbx_rig}))
register(Format("alembic", (".abc",), "Alembic mesh caches through Blender (extra [fbx]/[alembic])",
                writers={"sequence": _abc_cache}, uploadable=False))


def _npy_labels(path):
    import numpy as np
    return np.load(path)


register(Format("npy", (".npy",), "point trajectories [N, T, 3] (faces from a separate mesh); label arrays", None,
                _npy_sequence, read_labels=_npy_labels, uploadable=False))
register(Format("npz", (".npz",), "arrays: a mesh sequence (vertices [T, V, 3], faces, fps) or a rig",
                None, _npz_sequence, {"rig": _npz_rig, "sequence": _npz_seq}))

# Rig.export / export_usd / export_gltf (deprecated) delegate to save without core importing any writer
from ..core import rig as _core_rig  # noqa: E402

_core_rig._SAVE = save

