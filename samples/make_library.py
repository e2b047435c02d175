"""Generate a procedural asset library for ``articulate batch`` (made by this project; CC0).

    python samples/make_library.py OUT_DIR [-n 200] [--seed 0] [--bad 8]

Mixed, the way a studio folder is: parted characters and props as OBJ (groups = parts) and GLB (nodes = parts)
for ``rig``, cabinets and scissors for ``joints`` (``--task auto`` sends them there by their part names), animated
objects as ``.npz`` (vertices [T, V, 3], faces) for ``rig-from-motion``, and ``--bad`` broken files: a truncated
GLB, binary junk named .obj, an OBJ whose face points past its vertices, an OBJ with a NaN vertex, an empty file,
a truncated .npz, an unsupported .fbx, a stray README.txt, and byte-for-byte duplicates. ``OUT_DIR/.expected.json``
(hidden: the batch skips it) lists what each file is and what a batch must report for it.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

CHARACTERS = ("quadruped", "humanoid", "robot_arm", "lamp")
PROPS = ("cabinet", "scissors")


def _obj_text(v, f, face_part, names) -> str:
    lines = ["# procedural asset made by articulate-sdk samples/make_library.py (CC0)"]
    lines += [f"v {a:.6f} {b:.6f} {c:.6f}" for a, b, c in v]
    for p, nm in enumerate(names):
        sel = f[face_part == p]
        if len(sel):
            lines.append(f"g {nm}")
            lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in sel]
    return "\n".join(lines) + "\n"


def _write_glb(path: Path, v, f, face_part, names) -> None:
    import trimesh
    scene = trimesh.Scene()
    for p, nm in enumerate(names):
        sel = f[face_part == p]
        if not len(sel):
            continue
        used, inv = np.unique(sel, return_inverse=True)
        scene.add_geometry(trimesh.Trimesh(v[used], inv.reshape(-1, 3), process=False), node_name=nm, geom_name=nm)
    path.write_bytes(scene.export(file_type="glb"))


def _jitter(obj, rng):
    """Scale the object a little so no two files are byte-identical by accident."""
    return float(rng.uniform(0.8, 1.25))


def make_library(out: Path, n: int = 200, seed: int = 0, bad: int = 8, kinds=None) -> dict:
    """Write the library; ``kinds`` (a list of character_obj / character_glb / prop / motion) fixes the good
    files instead of drawing n - bad of them. -> {relative path: what it is and the status a batch must give}"""
    from samples.make_cabinet import cabinet_mesh
    from sdk.procedural import generate
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    expected: dict[str, dict] = {}
    n_good = max(n - bad, 1)
    if kinds is None:
        kinds = rng.choice(["character_obj", "character_glb", "prop", "motion"], size=n_good, p=[0.5, 0.15, 0.17, 0.18])
    for i, kind in enumerate(kinds):
        s = seed * 100003 + i
        if kind in ("character_obj", "character_glb"):
            obj = generate(CHARACTERS[i % len(CHARACTERS)], seed=s)
            m = obj.mesh()
            v = m.vertices * _jitter(obj, rng)
            names = [p.name for p in obj.parts]
            if kind == "character_obj":
                rel = f"characters/{obj.name}.obj"
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_text(_obj_text(v, m.faces, m.face_part, names))
            else:
                rel = f"characters/{obj.name}.glb"
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                _write_glb(out / rel, v, m.faces, m.face_part, names)
            expected[rel] = {"kind": kind, "task": "rig", "status": "done", "parts": len(names)}
        elif kind == "prop":
            (out / "props").mkdir(parents=True, exist_ok=True)
            if i % 6 == 5:  # the bundled cabinet design (door, drawer, lid), resized
                v, f, lab, names = cabinet_mesh()
                v = v * _jitter(None, rng)
                rel = f"props/cabinet3_{s}.obj"
            else:
                obj = generate(PROPS[i % len(PROPS)], seed=s)
                m = obj.mesh()
                v, f, lab, names = m.vertices * _jitter(obj, rng), m.faces, m.face_part, [p.name for p in obj.parts]
                rel = f"props/{obj.name}.obj"
            (out / rel).write_text(_obj_text(v, f, lab, names))
            expected[rel] = {"kind": kind, "task": "joints", "status": "done", "parts": len(names)}
        else:
            obj = generate(CHARACTERS[i % len(CHARACTERS)], seed=s)
            m = obj.mesh()
            q = obj.animate(num_frames=int(rng.integers(12, 25)), seed=s)
            verts = obj.pose_vertices(q, m) * _jitter(obj, rng)
            rel = f"motion/{obj.name}_anim.npz"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            with open(out / rel, "wb") as fh:
                np.savez_compressed(fh, vertices=verts.astype(np.float32), faces=m.faces, fps=np.float64(24.0))
            expected[rel] = {"kind": kind, "task": "rig-from-motion", "status": "done", "parts": len(obj.parts)}
    good = sorted(expected)
    if bad <= 0:
        (out / ".expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True))
        return expected
    broken = out / "characters"
    broken.mkdir(parents=True, exist_ok=True)
    bads = []
    glb = next((p for p in good if p.endswith(".glb")), None)
    if glb:
        data = (out / glb).read_bytes()
        (broken / "broken_truncated.glb").write_bytes(data[: len(data) // 3])
        bads.append(("characters/broken_truncated.glb", "invalid", "truncated GLB"))
    (broken / "broken_junk.obj").write_bytes(bytes(np.random.default_rng(seed + 1).integers(0, 256, 4096, dtype=np.uint8)))
    bads.append(("characters/broken_junk.obj", "invalid", "binary junk named .obj"))
    (broken / "broken_faces.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\ng a\nf 1 2 3\ng b\nf 1 2 99\n")
    bads.append(("characters/broken_faces.obj", "invalid", "face index past the vertices"))
    (broken / "broken_nan.obj").write_text("v 0 0 0\nv 1 0 0\nv nan 1 0\nv 0 0 1\ng a\nf 1 2 3\ng b\nf 1 3 4\n")
    bads.append(("characters/broken_nan.obj", "invalid", "NaN vertex"))
    (broken / "broken_empty.obj").write_bytes(b"")
    bads.append(("characters/broken_empty.obj", "invalid", "empty file"))
    npz = next((p for p in good if p.endswith(".npz")), None)
    if npz:
        data = (out / npz).read_bytes()
        (out / "motion" / "broken_truncated.npz").write_bytes(data[: len(data) // 2])
        bads.append(("motion/broken_truncated.npz", "invalid", "truncated npz"))
    (broken / "unsupported_model.fbx").write_bytes(b"Kaydara FBX Binary  \x00\x1a\x00" + b"\x00" * 64)
    bads.append(("characters/unsupported_model.fbx", "unsupported", "FBX is not read"))
    (out / "README.txt").write_text("library notes: not an asset\n")
    bads.append(("README.txt", "unsupported", "a text file"))
    k = 0
    while len(bads) < bad and good:
        src = good[(k * 7) % len(good)]
        p = Path(src)
        dup = p.with_name(f"{p.stem}_copy{k}{p.suffix}").as_posix()
        shutil.copyfile(out / src, out / dup)
        bads.append((dup, "duplicate", f"copy of {src}"))
        k += 1
    for rel, status, what in bads:
        expected[rel] = {"kind": "bad", "status": status, "what": what}
    (out / ".expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True))
    return expected


def check(lib: Path, out: Path) -> int:
    """Compare a batch's manifest with the library's .expected.json; print and count the mismatches."""
    expected = json.loads((Path(lib) / ".expected.json").read_text())
    got = json.loads((Path(out) / "manifest.json").read_text())["assets"]
    bad = 0
    for rel, e in sorted(expected.items()):
        g = got.get(rel)
        if g is None or g["status"] != e["status"] or (e["status"] == "done" and g["task"] != e["task"]):
            bad += 1
            print(f"MISMATCH {rel}: expected {e['status']}, got {g and g['status']}: {g and g.get('error')}")
    extra = sorted(set(got) - set(expected))
    for rel in extra:
        bad += 1
        print(f"UNEXPECTED {rel}: {got[rel]['status']}")
    good = sum(1 for e in expected.values() if e["status"] == "done")
    done = sum(1 for rel, e in expected.items() if e["status"] == "done" and got.get(rel, {}).get("status") == "done")
    reported = sum(1 for rel, e in expected.items() if e["status"] != "done" and got.get(rel, {}).get("error"))
    print(f"{done}/{good} good assets done; {reported}/{len(expected) - good} bad files reported with a reason; "
          f"{bad} mismatches")
    return 1 if bad else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("output", help="library folder to write (or, with --check, the library to check)")
    ap.add_argument("--check", default=None, metavar="OUT_DIR",
                    help="do not generate: compare OUT_DIR/manifest.json of a batch with the library's .expected.json")
    ap.add_argument("-n", type=int, default=200, help="files in all, broken ones included (default 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bad", type=int, default=8,
                    help="broken / unsupported / duplicate files among them (0: none; else at least 8)")
    ap.add_argument("--kinds", default=None,
                    help="comma list of good kinds to cycle through instead of a random mix "
                         "(character_obj, character_glb, prop, motion)")
    a = ap.parse_args(argv)
    if a.check:
        return check(Path(a.output), Path(a.check))
    kinds = None
    if a.kinds:
        cyc = a.kinds.split(",")
        kinds = [cyc[i % len(cyc)] for i in range(a.n - max(a.bad, 0))]
    exp = make_library(Path(a.output), a.n, a.seed, a.bad, kinds)
    counts: dict[str, int] = {}
    for e in exp.values():
        counts[e["kind"]] = counts.get(e["kind"], 0) + 1
    print(f"wrote {len(exp)} files to {a.output}: {', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
