"""Write a fixed-topology mesh sequence as a glTF 2.0 morph-target flipbook (the portable 4D-cache fallback).

The base mesh is frame 0; morph target ``t`` holds ``vertices[t] - vertices[0]`` (target 0 is all zeros). One
animation drives the node's ``weights`` with ``STEP`` interpolation: at time ``t / fps`` the weights are the one-hot
vector of frame ``t``. Every glTF viewer and engine plays it; memory grows as frames x vertices (short clips only).
``TEXCOORD_0`` (glTF convention, as :class:`~sdk.core.MeshSequence` stores it) is written when the sequence has uvs,
and the sequence's look (further UV sets, normals, colours, materials, textures, one glTF primitive per look
primitive) as the rig writer writes it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sdk.core import MeshFrames, MeshSequence
from sdk.errors import InvalidInputError

from .gltf import _Blob, mesh_primitives, save_gltf, write_look


def write_mesh_cache_gltf(seq: MeshSequence | MeshFrames, path, *, name: str | None = None) -> Path:
    """Write ``seq`` to ``path`` (.glb or .gltf) as a morph-target flipbook, atomically; returns the path."""
    import pygltflib as G
    if isinstance(seq, MeshFrames):
        seq = seq.validate().to_sequence()  # names the first frame whose topology differs
    path = Path(path)
    if path.suffix.lower() not in (".glb", ".gltf"):
        raise InvalidInputError(f"glTF output must end in .glb or .gltf, got '{path.suffix}'", field="output")
    if seq.faces is None:
        raise InvalidInputError("a morph-target flipbook needs faces", field="faces", source=seq.source)
    bad = ~np.isfinite(seq.vertices).all(axis=(1, 2))
    if bad.any():
        t = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(f"frame {t} has non-finite vertices", field=f"frame {t}", source=seq.source)
    T = seq.n_frames
    FLOAT = 5126
    from sdk.core import Mesh
    # normals/tangents deform: not part of a flipbook's static base (Look.static)
    base = Mesh(seq.vertices[0], seq.faces, name=name or seq.name, uvs=seq.uvs,
                look=seq.look.static() if seq.look is not None else None)
    b = _Blob()
    targets = [(seq.vertices[t] - seq.vertices[0]).astype(np.float32) for t in range(T)]  # min/max set per target
    prims = mesh_primitives(b, base, targets=targets)
    weights0 = [1.0 if t == 0 else 0.0 for t in range(T)]
    mesh = G.Mesh(name=name or seq.name, primitives=prims, weights=weights0,
                  extras={"targetNames": [f"frame_{t:05d}" for t in range(T)]})
    times = b.add((np.arange(T) / float(seq.fps)).astype(np.float32), "SCALAR", FLOAT, minmax=True)
    w = b.add(np.eye(T, dtype=np.float32).ravel(), "SCALAR", FLOAT)
    anim = G.Animation(name="flipbook", samplers=[G.AnimationSampler(input=times, output=w, interpolation="STEP")],
                       channels=[G.AnimationChannel(sampler=0, target=G.AnimationChannelTarget(node=0, path="weights"))])
    gltf = G.GLTF2(asset=G.Asset(version="2.0", generator="articulate-sdk mesh cache"), scene=0,
                   scenes=[G.Scene(nodes=[0])], nodes=[G.Node(name=name or seq.name, mesh=0)], meshes=[mesh],
                   animations=[anim] if T > 1 else [])
    write_look(gltf, b, base.look)
    return save_gltf(gltf, b, path)

