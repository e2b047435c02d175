"""Docs tables cannot drift: every marked table in docs equals the rendering of its last recorded run."""
from __future__ import annotations

from pathlib import Path

from sdk.evaluation.record import RESULTS, Record, blocks, render, replace_blocks

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]


def test_every_marked_table_equals_its_recorded_run():
    seen = {}
    for doc in DOCS:
        for name, body in blocks(doc.read_text()).items():
            rec = RESULTS / f"{name}.json"
            assert rec.is_file(), f"{doc.name}: block '{name}' has no record {rec} (python docs/tables.py --rerun {name})"
            assert body == render(Record.load(rec)), (f"{doc.name}: table '{name}' differs from {rec.name}; run "
                                                      "python docs/tables.py")
            seen[name] = doc.name
    # the three evaluation tables the docs promise
    assert {"evaluate-motion", "evaluate-skinning", "evaluate-joints"} <= set(seen), seen
    for name in ("evaluate-motion", "evaluate-skinning", "evaluate-joints"):
        rec = Record.load(RESULTS / f"{name}.json")
        assert rec.exit_code == 0 and rec.wall_s > 0 and rec.command[:2] == ["evaluate", name.split("-", 1)[1]]


def test_render_and_replace():
    rec = Record(name="evaluate-x", command=["evaluate", "x"], exit_code=0, wall_s=1.5, cpu_s=1.2,
                 recorded_at="2026-01-01 00:00 UTC", commit="abc", load_avg=[1.0, 1.0, 1.0], cpus=2,
                 omp_num_threads="1",
                 output="progress line\nTitle A\n| a | b |\n|---|---|\n| 1 | 2 |\n\nfooter\n")
    md = render(rec)
    assert "**Title A**" in md and "| 1 | 2 |" in md and "progress line" not in md and "1.5 s wall" in md
    text = render(Record(**{**rec.__dict__, "output": "a  b\n1  2\n"}))
    assert "```text\na  b\n1  2\n```" in text  # text tables are kept verbatim
    doc = "x\n<!-- table:evaluate-x begin -->\nold\n<!-- table:evaluate-x end -->\ny\n"
    new = replace_blocks(doc, {"evaluate-x": md})
    assert blocks(new) == {"evaluate-x": md} and new.startswith("x\n") and new.endswith("y\n")
