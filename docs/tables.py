"""Docs tables generated from the evaluation commands, so they cannot drift.

    python docs/tables.py                      # rewrite every marked block in docs/*.md from bench/results/*.json
    python docs/tables.py --rerun [NAME ...]   # rerun the commands (all, or the named), record, then rewrite
    python docs/tables.py --check              # exit 1 when a block differs from its record (what the test checks)

A block is ``<!-- table:NAME begin -->`` ... ``<!-- table:NAME end -->`` in any docs page; its record is
``bench/results/NAME.json``, written by ``articulate evaluate ... --record`` (``sdk.evaluation.record``). Run it
from the repository root with ``OMP_NUM_THREADS=1`` (the records keep the load average and the thread setting).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdk.evaluation.record import RESULTS, Record, blocks, render, replace_blocks  # noqa: E402

# the commands behind the docs tables (argv after `articulate`)
COMMANDS = {
    "evaluate-motion": ["evaluate", "motion"],
    "evaluate-skinning": ["evaluate", "skinning"],
    "evaluate-joints": ["evaluate", "joints"],
}
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]


def rerun(names) -> None:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), PYTHONPATH=str(ROOT),
               ARTICULATE_PROGRESS="0")
    for n in names:
        out = RESULTS / f"{n}.json"
        cmd = [sys.executable, "-m", "sdk.cli", *COMMANDS[n], "--record", str(out)]
        print("$", " ".join(cmd[2:]), flush=True)
        r = subprocess.run(cmd, cwd=ROOT, env=env)
        if r.returncode:
            raise SystemExit(f"{n}: exit code {r.returncode}")


def expected(doc_text: str) -> dict:
    """{name: rendered body} for the blocks of a document that have a record."""
    out = {}
    for n in blocks(doc_text):
        rec = RESULTS / f"{n}.json"
        if rec.is_file():
            out[n] = render(Record.load(rec))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rerun", nargs="*", default=None, metavar="NAME", help=f"rerun these ({', '.join(COMMANDS)}; "
                                                                            "none named: all) before rendering")
    p.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    a = p.parse_args(argv)
    if a.rerun is not None:
        rerun(a.rerun or list(COMMANDS))
    bad = 0
    for doc in DOCS:
        if not doc.is_file():
            continue
        text = doc.read_text()
        exp = expected(text)
        for n in blocks(text):
            if n not in exp:
                print(f"{doc.relative_to(ROOT)}: block '{n}' has no record bench/results/{n}.json")
                bad += 1
        new = replace_blocks(text, exp)
        if new != text:
            if a.check:
                print(f"{doc.relative_to(ROOT)}: tables differ from their records (run python docs/tables.py)")
                bad += 1
            else:
                doc.write_text(new)
                print(f"rewrote {doc.relative_to(ROOT)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
