"""Architecture statistics of a checkout: the before/after table of docs/architecture.md.

    python bench/arch_stats.py [ROOT ...]          # default: this checkout; e.g. /tmp/base (git worktree of 6b964e8)

Every figure is computed from the source with ``ast`` (the layer table and import walk of ``sdk/_layers.py`` *of
this checkout*, applied to ROOT), and every hit is listed with ``--verbose`` so a number can be checked by hand:

* layer violations and package cycles (the rule of docs/architecture.md);
* duplicate concepts: functions outside ``sdk/geometry`` that call scipy / networkx ``connected_components``
  themselves, ``weld*`` implementations outside ``sdk/geometry``,
  ``Mesh`` classes, ``resolve_parts`` functions, OBJ text writers (``f"v ..."`` lines, samples included),
  palettes (module-level colour tables or ``palette`` functions), mesh painters outside ``sdk/render`` (PIL
  ``polygon`` fills), file-suffix tuples / comparisons outside the format registry;
* functions over 80 lines;
* progress styles: ``progress(fraction, message)`` calls, ``progress(message)`` calls, ``progress: bool``
  parameters, ``Stage`` objects;
* attributes stuck on objects after construction (assignments of the names the issue lists onto another object)
  and ``getattr(obj, "name", None)`` probes.
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
from sdk import _layers  # noqa: E402

SUFFIX = re.compile(r"^\.[a-z][a-z0-9]{1,5}$")
STUCK = {"part_centroids", "joint_of_part", "root_link", "ranking", "dropped_faces", "static", "dropped_frames", "clip"}
REGISTRY_FILES = {"sdk/io/formats.py"}  # where suffixes are declared, by design
EXTRA_ROOTS = ("samples", "bench")


def _files(root: Path, extra: bool = False):
    tops = _layers.ROOTS + (EXTRA_ROOTS if extra else ())
    for top in tops:
        for p in sorted((root / top).rglob("*.py")):
            rel = p.relative_to(root)
            if "gen" in rel.parts[:-1] or rel.name == "arch_stats.py":
                continue
            yield rel, ast.parse(p.read_text())


def _call_name(node: ast.Call) -> str:
    f = node.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""


def stats(root: Path) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = defaultdict(list)
    problems = _layers.check(root)
    hits["layer violations (edges)"] = [p for p in problems if "package cycle" not in p and "not in the layer" not in p]
    hits["package cycles"] = [p for p in problems if "package cycle" in p]
    for rel, tree in _files(root):
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    hits["functions over 80 lines"].append(f"{rel}:{node.lineno} {node.name} ({n} lines)")
                calls = {_call_name(c) for c in ast.walk(node) if isinstance(c, ast.Call)}
                in_geometry = str(rel).startswith("sdk/geometry/")
                if "connected_components" in calls and not in_geometry:
                    hits["edge-graph / component builders outside sdk/geometry"].append(f"{rel}:{node.lineno} {node.name}")
                if node.name.startswith("weld") and not in_geometry:
                    hits["weld implementations outside sdk/geometry"].append(f"{rel}:{node.lineno} {node.name}")
                if node.name == "resolve_parts":
                    hits["resolve_parts functions"].append(f"{rel}:{node.lineno}")
                if node.name in ("palette", "_palette"):
                    hits["palettes"].append(f"{rel}:{node.lineno} {node.name}()")
                for a in node.args.args + node.args.kwonlyargs:
                    if a.arg == "progress" and isinstance(a.annotation, ast.Name) and a.annotation.id == "bool":
                        hits["progress: bool parameters"].append(f"{rel}:{node.lineno} {node.name}")
            elif isinstance(node, ast.ClassDef) and node.name == "Mesh":
                hits["Mesh classes"].append(f"{rel}:{node.lineno}")
            elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                    and "PALETTE" in node.targets[0].id and isinstance(node.value, (ast.List, ast.Call, ast.Tuple)):
                hits["palettes"].append(f"{rel}:{node.lineno} {node.targets[0].id}")
            elif isinstance(node, ast.Call):
                name = _call_name(node)
                if name == "polygon" and isinstance(node.func, ast.Attribute) and not str(rel).startswith("sdk/render/"):
                    hits["mesh painters outside sdk/render (PIL polygon fills)"].append(f"{rel}:{node.lineno}")
                if name == "progress" and isinstance(node.func, ast.Name):
                    if len(node.args) == 1 and isinstance(node.args[0], (ast.Constant, ast.JoinedStr)) \
                            and isinstance(getattr(node.args[0], "value", ""), str):
                        hits["progress(message) calls"].append(f"{rel}:{node.lineno}")
                    elif len(node.args) == 2:
                        hits["progress(fraction, message) calls"].append(f"{rel}:{node.lineno}")
                if name == "Stage":
                    hits["Stage objects"].append(f"{rel}:{node.lineno}")
                if name == "getattr" and len(node.args) == 3 and isinstance(node.args[2], ast.Constant) \
                        and node.args[2].value is None and isinstance(node.args[1], ast.Constant):
                    hits["getattr(obj, name, None) probes"].append(f"{rel}:{node.lineno} {node.args[1].value}")
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Attribute) and t.attr in STUCK and not (
                            isinstance(t.value, ast.Name) and t.value.id == "self"):
                        hits["fields stuck on after construction"].append(f"{rel}:{node.lineno} .{t.attr}")
            if str(rel) not in REGISTRY_FILES:
                if isinstance(node, (ast.Tuple, ast.Set, ast.List)):
                    vals = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                    if len(vals) >= 2 and sum(bool(SUFFIX.match(v)) for v in vals) >= 2:
                        hits["file-suffix tuples outside the registry"].append(f"{rel}:{node.lineno} {tuple(vals)}")
                elif isinstance(node, ast.Compare) and len(node.comparators) == 1:
                    c = node.comparators[0]
                    if isinstance(node.ops[0], (ast.Eq, ast.NotEq)) and isinstance(c, ast.Constant) \
                            and isinstance(c.value, str) and SUFFIX.match(c.value) and c.value not in (".py",):
                        hits["file-suffix tuples outside the registry"].append(f"{rel}:{node.lineno} == {c.value!r}")
    for rel, tree in _files(root, extra=True):
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant) \
                    and str(node.values[0].value).startswith("v "):
                hits["OBJ text writers (f\"v ...\" lines)"].append(f"{rel}:{node.lineno}")
    progress_styles = sum(bool(hits[k]) for k in ("progress(fraction, message) calls", "progress(message) calls",
                                                  "progress: bool parameters", "Stage objects"))
    hits["progress styles in use"] = [str(progress_styles)]
    return hits


ORDER = ["layer violations (edges)", "package cycles", "edge-graph / component builders outside sdk/geometry",
         "weld implementations outside sdk/geometry",
         "Mesh classes", "resolve_parts functions", "OBJ text writers (f\"v ...\" lines)", "palettes",
         "mesh painters outside sdk/render (PIL polygon fills)", "file-suffix tuples outside the registry",
         "functions over 80 lines", "progress(fraction, message) calls", "progress(message) calls",
         "progress: bool parameters", "Stage objects", "progress styles in use",
         "fields stuck on after construction", "getattr(obj, name, None) probes"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="*", default=[str(HERE)])
    ap.add_argument("--verbose", "-v", action="store_true", help="list every hit")
    args = ap.parse_args(argv)
    tables = [stats(Path(r).resolve()) for r in args.roots]
    print("| item | " + " | ".join(args.roots) + " |")
    print("|---|" + "---|" * len(args.roots))
    for k in ORDER:
        vals = [t[k][0] if k == "progress styles in use" else str(len(t.get(k, []))) for t in tables]
        print(f"| {k} | " + " | ".join(vals) + " |")
    if args.verbose:
        for r, t in zip(args.roots, tables):
            print(f"\n## {r}")
            for k in ORDER:
                if k != "progress styles in use":
                    for h in t.get(k, []):
                        print(f"{k}: {h}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
