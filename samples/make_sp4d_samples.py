"""Generate the procedural SP4D sample meshes: samples/props/sp4d_<category>.obj (rest pose, one group per part)."""
from pathlib import Path

from exporters.obj import write_obj
from sdk.procedural import generate

OUT = Path(__file__).resolve().parent / "props"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for cat, seed in (("lamp", 1), ("robot_arm", 2)):
        m = generate(cat, seed=seed).mesh()
        write_obj(m.vertices, m.faces, OUT / f"sp4d_{cat}.obj", face_groups=m.face_part,
                  header=f"procedural {cat} (seed {seed}) from sdk.procedural; groups = kinematic parts")


if __name__ == "__main__":
    main()
