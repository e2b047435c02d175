"""Generate the procedural SP4D sample meshes: samples/props/sp4d_<category>.obj (rest pose, one group per part)."""
from pathlib import Path

from sdk.procedural import generate

OUT = Path(__file__).resolve().parent / "props"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for cat, seed in (("lamp", 1), ("robot_arm", 2)):
        m = generate(cat, seed=seed).mesh()
        lines = [f"# procedural {cat} (seed {seed}) from sdk.procedural; groups = kinematic parts"]
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in m.vertices]
        for p in range(int(m.face_part.max()) + 1):
            lines.append(f"g part{p}")
            lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in m.faces[m.face_part == p]]
        (OUT / f"sp4d_{cat}.obj").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
