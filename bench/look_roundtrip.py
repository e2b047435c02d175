"""Round trip of the shared textured assets' look through every rig format (issue 19): per-corner UV and normal
errors, texture bytes, materials, primitives, write/read seconds.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python bench/look_roundtrip.py [OUT_DIR]

Seconds are wall clock on whatever machine runs it (the first write includes imports)."""
from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sdk import Articulator
from sdk.io import load_asset, save

ROOT = Path(__file__).resolve().parents[1]
RIGGED = ROOT.parent / "shared" / "data" / "rigged"


def main(out_dir: Path) -> None:
    print("| asset | format | write s | read s | V in/out | max UV err (per corner) | max normal err | materials | "
          "texture bytes equal | primitives |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in ["CesiumMan", "Fox"]:
        a = load_asset(RIGGED / name / f"{name}.glb")
        rig = Articulator().rig(a, parts_from_skin=True)
        for suf in [".glb", ".gltf", ".usda", ".usdc", ".fbx"]:
            out = out_dir / f"{name}{suf}"
            t0 = time.perf_counter()
            save(rig, out)
            t1 = time.perf_counter()
            b = load_asset(out)
            t2 = time.perf_counter()
            m0, m1 = a.mesh, b.mesh
            uv = np.abs(m0.uvs[m0.faces] - m1.uvs[m1.faces]).max()
            ne = (np.abs(m0.look.normals[m0.faces] - m1.look.normals[m1.faces]).max()
                  if m0.look.normals is not None else None)
            same = ([hashlib.sha256(t.data).digest() for t in m0.look.textures]
                    == [hashlib.sha256(t.data).digest() for t in m1.look.textures])
            print(f"| {name} | {suf} | {t1 - t0:.2f} | {t2 - t1:.2f} | {m0.n_vertices}/{m1.n_vertices} | {uv:.1e} | "
                  f"{'-' if ne is None else f'{ne:.1e}'} | {[m.name for m in m1.look.materials]} | {same} | "
                  f"{m1.look.n_primitives} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="look_")))
