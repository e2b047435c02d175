"""Articulator.parts(): the library home of ``articulate parts`` (colour method: no model weights needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_parts_facade_labels_every_vertex_and_reports_progress():
    from sdk import Articulator
    from sdk.io import load_asset
    path = SAMPLES / "props" / "sp4d_lamp.obj"
    seen = []
    pl = Articulator(device="cpu").parts(str(path), method="colour", passes=1, progress=lambda f, m: seen.append(f))
    mesh = load_asset(path).mesh
    assert pl.labels.shape == (mesh.n_vertices,) and pl.labels.min() >= 0 and pl.n_parts >= 2
    pl.validate(mesh.n_vertices)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert np.bincount(pl.labels).min() > 0
