"""``sdk.Articulator``: the one facade a studio tool embeds. It only composes the method modules.

    from sdk import Articulator
    art = Articulator()
    rig = art.rig("samples/critter.obj", method="harmonic")
    sdk.save(rig, "critter.usda")     # sdk.io.save: the format registry picks the writer

``sdk.client.RemoteArticulator`` offers the same methods over gRPC.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from .core import Articulation, Mesh, PartLabels, Rig
from .errors import InvalidInputError
from .io import Asset, load_asset, parts_from_labels

Progress = Callable[[float, str], None]


def as_asset(obj) -> Asset:
    """Accept a path, an Asset, a Mesh, or a (vertices, faces) pair."""
    if isinstance(obj, Asset):
        return obj
    if isinstance(obj, (str, Path)):
        return load_asset(obj)
    if isinstance(obj, Mesh):
        return Asset(None, obj)
    if isinstance(obj, tuple) and len(obj) == 2:
        return Asset(None, Mesh(np.asarray(obj[0]), np.asarray(obj[1])))
    raise InvalidInputError(f"cannot use {type(obj).__name__} as an asset (give a path, Asset, Mesh or (vertices, faces))",
                            field="asset")


def resolve_parts(asset: Asset, parts=None, *, parts_from_skin: bool = False) -> PartLabels:
    """Parts from: an explicit PartLabels / label array, the asset's own sub-meshes, or its skin (evaluation)."""
    src = str(asset.path) if asset.path else None
    if parts_from_skin:
        pl = asset.parts_from_skin()
    elif parts is None:
        if asset.parts is None or asset.parts.n_parts < 2:
            raise InvalidInputError("the asset has no parts: give separate sub-meshes/groups, a per-vertex or per-face label "
                                    "array, or --parts-from-skin for a skinned input", field="parts", source=src)
        pl = asset.parts
    elif isinstance(parts, PartLabels):
        pl = parts
    elif isinstance(parts, (str, Path)):
        from .io.formats import load_labels
        pl = parts_from_labels(asset.mesh, load_labels(parts))
    else:
        pl = parts_from_labels(asset.mesh, parts)
    return pl.validate(asset.mesh.n_vertices, source=src)


class Articulator:
    """Compose loading, rigging, motion and articulation methods behind one object."""

    def __init__(self, device: str | None = None):
        self.device = device

    load = staticmethod(load_asset)

    def rig(self, asset, parts=None, *, method: str | None = None, max_influences: int = 4, max_bones: int | None = None,
            root=None, quantize_bits: int | None = None, parts_from_skin: bool = False,
            template: str | None = None, naming: str = "ue5", progress: Progress | None = None,
            config: "RigConfig | None" = None) -> Rig:
        """Skeleton + skin weights.

        A parted mesh (sub-meshes, groups, a label array) is rigged from its parts (SP4D §3.4 harmonic, default,
        or bone heat); the options form one :class:`sdk.rigging.config.RigConfig` (validated once, before any
        work; pass ``config=`` to give it directly and the keyword options are then ignored). A plain mesh -- no
        parts, or ``template`` given (auto | biped | quadruped | chain) -- goes to :func:`sdk.autorig.autorig`:
        template embedding or curve skeleton, ``naming`` profile (ue5 | mixamo | unity | generic) and bone-heat
        weights.
        """
        from .rigging import rig_from_parts
        from .rigging.config import RigConfig
        a = as_asset(asset)
        src = str(a.path) if a.path else None
        a = replace(a, mesh=a.mesh.validate(source=src))  # validate returns the cleaned mesh (input untouched)
        plain = config is None and parts is None and not parts_from_skin and (a.parts is None or a.parts.n_parts < 2)
        if template is not None or plain:
            if method not in (None, "heat"):
                raise InvalidInputError(f"a plain mesh is skinned with bone heat; method {method!r} needs parts "
                                        "(give parts, or drop --method)", field="method", source=src)
            from .autorig import autorig
            rig = autorig(a.mesh, template=template or "auto", naming=naming, max_influences=max_influences,
                          max_bones=max_bones, quantize_bits=quantize_bits, progress=progress, source=src)
            rig.metadata.setdefault("source", src)
            return rig
        cfg = config or RigConfig(method or RigConfig.method, max_influences, max_bones, root, quantize_bits, parts_from_skin)
        pl = resolve_parts(a, parts, parts_from_skin=cfg.parts_from_skin)
        rig = rig_from_parts(a.mesh, pl, progress=progress, **cfg.method_kwargs())
        rig.metadata.setdefault("source", src)
        return rig

    def rig_from_motion(self, sequence, *, faces=None, clip: str | None = None, fps: float | None = None,
                        max_bones: int | None = None, max_influences: int = 4,
                        progress: Progress | None = None, **kw) -> Rig:
        """Skinned skeleton + animation recovered from motion.

        ``sequence``: a path (glTF clip, folder of OBJ/PLY frames, USD time-sampled points, .npy trajectories,
        .npz), a ``MeshSequence``, or an array [T, V, 3] with optional ``faces`` [F, 3].
        The per-frame reconstruction report is in ``rig.metadata["report"]``.
        """
        from .motionrig.pipeline import rig_from_motion
        from .core import MeshSequence
        from .io import load_sequence
        if isinstance(sequence, MeshSequence):
            seq = sequence
        elif isinstance(sequence, (str, Path)):
            seq = load_sequence(sequence, clip=clip, fps=fps)
        else:
            seq = MeshSequence(np.asarray(sequence), faces, fps or 30.0)
        rig, report = rig_from_motion(seq, max_bones=max_bones, max_influences=max_influences,
                                      device=self.device, progress=progress, **kw)
        rig.metadata["report"] = report
        return rig

    def articulate(self, asset, part: str | int | None = None, *, prompt: str | None = None,
                   prompts: dict | None = None, all_parts: bool = False, progress: Progress | None = None,
                   config=None) -> Articulation:
        """Joints of a prop, ATOP-style: one part (``part``, optional ``prompt``) or every movable part
        (``all_parts``, optional ``prompts`` {part name: text}); the rest of the object is the fixed body.

        Returns an Articulation (per joint: type, axis, origin, limits, parent, child, confidence); write it with
        ``exporters.physics_usd.write_physics_usd`` or ``exporters.urdf.write_urdf``.
        """
        from .articulation.articulate import articulate_object
        a = as_asset(asset)
        if a.parts is None or a.parts.n_parts < 2:
            raise InvalidInputError("the asset has no parts: give sub-meshes, OBJ groups, USD prims or URDF links",
                                    field="parts", source=str(a.path) if a.path else None)
        only = None
        if not all_parts:
            if part is None:
                raise InvalidInputError("give a part name/id or all_parts=True", field="part")
            name = a.parts.names[part] if isinstance(part, (int, np.integer)) and 0 <= part < a.parts.n_parts else part
            if name not in a.parts.names:
                raise InvalidInputError(f"unknown part {part!r}; the asset has {a.parts.names}", field="part",
                                        source=str(a.path) if a.path else None)
            only, prompts = [name], ({name: prompt} if prompt else prompts)
        # config: sdk.articulation.ArticulateConfig (axis estimator, prior, up axis, sample counts), validated when built
        return articulate_object(a, prompts=prompts, only=only, config=config,
                                 progress=progress if progress is not None else False)

    def parts(self, asset, *, method: str = "sp4d", weights=None, steps: int = 12, passes: int = 2,
              sam_checkpoint=None, seed: int = 0, progress: Progress | None = None) -> PartLabels:
        """Kinematic parts of a mesh from its renders (SP4D: the model generates part maps for orbit views, which
        are back-mapped and lifted onto the vertices; ``method="colour"``: colour clustering, no model).

        Returns per-vertex PartLabels; ``articulate parts`` also writes the maps and a preview."""
        from .models.sp4d.pipeline import predict_parts
        a = as_asset(asset)
        res = predict_parts(a.mesh.vertices, a.mesh.faces, method, weights, steps, passes, sam_checkpoint, seed,
                            self.device, progress=progress)
        return PartLabels(res["labels"])

