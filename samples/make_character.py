"""Build the bundled plain character samples (made by this project; CC0): one closed surface, no groups,
no skin, no motion -- what `articulate rig` must turn into an engine-ready rig.

    python samples/make_character.py     # writes samples/character.obj and samples/quadruped.obj
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sdk.procedural.character import biped, quadruped, write_obj  # noqa: E402


def main() -> None:
    v, f, _ = biped(resolution=48)
    write_obj(HERE / "character.obj", v, f)
    print(f"character.obj: {len(v)} vertices, {len(f)} faces")
    v, f, _ = quadruped(resolution=44)
    write_obj(HERE / "quadruped.obj", v, f)
    print(f"quadruped.obj: {len(v)} vertices, {len(f)} faces")


if __name__ == "__main__":
    main()
