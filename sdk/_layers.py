"""The layer table: every package of the product and the layer it lives in (one line per package).

Dependency rule: a module may import modules of its own layer or of a *lower* layer, never of a higher one, and
the packages may not form an import cycle (also not within one layer). ``tests/test_architecture.py`` walks every
import (module level and inside functions, ``importlib.import_module("...")`` with a literal name included) of
every module under ``sdk/``, ``exporters/``, ``trt_engines/`` and ``engine_bridges/`` and fails on a broken edge.

A new package gets one line in ``PACKAGES``; a module whose package is missing here fails the test. The longest
matching prefix wins (``sdk.models.sp4d`` before ``sdk.models``). ``docs/architecture.md`` explains the layers.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

#: layer number -> name (low numbers are the foundation)
LAYERS = {
    0: "base",          # errors, config, util: imported by everyone, import nothing of the product
    1: "core",          # numpy data types + invariants (a leaf: imports only sdk.errors)
    2: "geometry",      # shared functional kernels (weld, edge graph, Laplacian, sampling, Kabsch, LBS, rotations)
    3: "io/render/exporters",  # readers, renderers + previews, writers, the format registry, procedural samples
    4: "task",          # rigging, rig from motion, articulation, motion synthesis, physics, 4D, ...
    5: "models/compile",  # learned models and their compiled engines
    6: "facade",        # sdk.Articulator, evaluation tables
    7: "adapters",      # command line, gRPC server and clients, engine bridges
}

#: package (dotted prefix) -> layer
PACKAGES = {
    # 0 base
    "sdk.errors": 0,
    "sdk.config": 0,
    "sdk.util": 0,
    "sdk._layers": 0,
    # 1 core
    "sdk.core": 1,
    # 2 geometry
    "sdk.geometry": 2,
    # 3 io / render / exporters
    "sdk.io": 3,
    "sdk.render": 3,
    "sdk.preview": 3,
    "sdk.procedural": 3,
    "exporters": 3,
    "sdk.wire": 3,         # protobuf <-> core conversion shared by client and server
    "sdk.server.gen": 3,   # generated protobuf stubs (the wire format; no server code)
    # 4 task packages
    "sdk.rigging": 4,
    "sdk.motionrig": 4,    # rig from motion
    "sdk.articulation": 4,
    "sdk.motion": 4,       # motion synthesis (AKD)
    "sdk.physics": 4,
    "sdk.autorig": 4,
    "sdk.validation": 4,
    "sdk.registration": 4,
    "sdk.gs4d": 4,
    "sdk.gaussians": 4,
    "sdk.tracking": 4,
    "sdk.meshcache": 4,
    # 5 models / compile
    "sdk.models": 5,
    "trt_engines": 5,
    # 6 facade
    "sdk.articulator": 6,
    "sdk.evaluation": 6,
    "sdk.batch": 6,
    "sdk.pipelines": 6,    # orchestration of task packages + models (animate)
    # 7 adapters
    "sdk.cli": 7,
    "sdk.server": 7,
    "sdk.client": 7,
    "sdk.clients": 7,
    "engine_bridges": 7,
    "sdk": 7,              # sdk/__init__.py: the lazy top-level namespace (Articulator, load_asset)
}

#: keys that name only their own ``__init__`` (a new ``sdk.x`` package needs its own line)
NAMESPACES = ("sdk",)

#: edges forbidden even though the layers allow them: (importer prefix, imported module prefix, why)
FORBIDDEN = [
    ("sdk.client", "sdk.server", "a client needs no server code: both share sdk.wire (stubs: sdk.server.gen)"),
    ("sdk.clients", "sdk.server", "a client needs no server code: both share sdk.wire (stubs: sdk.server.gen)"),
    ("", "sdk.models.sp4d.train", "inference never imports the training module (shared helpers: sp4d.views)"),
]

#: roots of the product that the walk covers
ROOTS = ("sdk", "exporters", "trt_engines", "engine_bridges")
#: generated code (protobuf stubs) is not walked
SKIP_PARTS = ("gen",)


def package_of(module: str) -> str | None:
    """The PACKAGES key that owns a dotted module name (longest prefix), or None when no line covers it."""
    best = None
    for key in PACKAGES:
        if module == key or (module.startswith(key + ".") and key not in NAMESPACES):
            if best is None or len(key) > len(best):
                best = key
    return best


def _under(module: str, prefix: str) -> bool:
    return not prefix or module == prefix or module.startswith(prefix + ".")


@dataclass(frozen=True)
class Edge:
    src: str      # importing module
    dst: str      # imported module (resolved, absolute)
    file: str     # path relative to the repository root
    line: int


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def iter_modules(root: Path):
    """(module name, path) of every .py file under ROOTS, generated stubs excluded."""
    for top in ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root)
            if any(p in SKIP_PARTS for p in rel.parts[:-1]):
                continue
            yield _module_name(root, path), path


def _resolve(module: str, is_pkg: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _is_product(name: str) -> bool:
    return name.split(".")[0] in ROOTS


def module_edges(root: Path, module: str, path: Path) -> list[Edge]:
    """Every import of the product made anywhere in one file (also inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    rel = str(path.relative_to(root))
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_pkg, node.level, node.module)
            # `from pkg import sub` may name a submodule: record pkg.sub when that file exists
            for a in node.names:
                cand = f"{base}.{a.name}" if base else a.name
                names.append(cand if _exists(root, cand) else base)
        elif isinstance(node, ast.Call) and _is_import_module(node):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                if arg.value.startswith("."):
                    lvl = len(arg.value) - len(arg.value.lstrip("."))
                    pkg = node.args[1] if len(node.args) > 1 else None
                    anchor = module if is_pkg else module.rsplit(".", 1)[0]
                    if isinstance(pkg, ast.Name) and pkg.id == "__name__":
                        anchor = module
                    names = [_resolve(anchor, True, lvl, arg.value.lstrip(".") or None)]
                else:
                    names = [arg.value]
        for n in names:
            if n and _is_product(n):
                out.append(Edge(module, n, rel, node.lineno))
    return out


def _is_import_module(node: ast.Call) -> bool:
    f = node.func
    return ((isinstance(f, ast.Attribute) and f.attr == "import_module")
            or (isinstance(f, ast.Name) and f.id == "import_module")) and bool(node.args)


def _exists(root: Path, dotted: str) -> bool:
    p = root.joinpath(*dotted.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def all_edges(root: Path) -> list[Edge]:
    edges = []
    for mod, path in iter_modules(root):
        edges.extend(module_edges(root, mod, path))
    return edges


def check(root: Path) -> list[str]:
    """Every violation of the layer table as one line ``file:line: message``; empty when the rule holds."""
    problems = []
    for mod, path in iter_modules(root):
        if package_of(mod) is None:
            problems.append(f"{path.relative_to(root)}:1: package of module {mod} is not in the layer table: "
                            f"add one line for it to PACKAGES in sdk/_layers.py")
    edges = all_edges(root)
    graph: dict[str, dict[str, Edge]] = {}
    for e in edges:
        ps, pd = package_of(e.src), package_of(e.dst)
        if ps is None or pd is None:
            if pd is None and ps is not None:
                problems.append(f"{e.file}:{e.line}: {e.src} imports {e.dst}, whose package is not in the layer "
                                f"table: add one line for it to PACKAGES in sdk/_layers.py")
            continue
        for a, b, why in FORBIDDEN:
            if (_under(e.src, a) and _under(e.dst, b) and package_of(e.dst) == package_of(b)
                    and not _under(e.src, b)):
                problems.append(f"{e.file}:{e.line}: {e.src} imports {e.dst}: {why}")
        if ps == pd:
            continue
        ls, ld = PACKAGES[ps], PACKAGES[pd]
        if ld > ls:
            problems.append(f"{e.file}:{e.line}: {e.src} ({LAYERS[ls]}) imports {e.dst} ({LAYERS[ld]}): "
                            f"upward edge breaks the dependency rule")
        if ps == "sdk.core" and pd != "sdk.errors":
            problems.append(f"{e.file}:{e.line}: sdk.core is a leaf and may import only sdk.errors, not {e.dst}")
        graph.setdefault(ps, {}).setdefault(pd, e)
    for cyc in package_cycles(graph):
        where = "; ".join(f"{graph[a][b].file}:{graph[a][b].line} ({a} -> {b})" for a, b in zip(cyc, cyc[1:]))
        problems.append(f"package cycle {' -> '.join(cyc)}: {where}")
    return list(dict.fromkeys(problems))


def package_cycles(graph: dict[str, dict[str, Edge]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one package (Tarjan)."""
    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(comp)

    nodes = set(graph) | {d for ds in graph.values() for d in ds}
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    cycles = []
    for comp in sccs:
        members = set(comp)
        start = sorted(comp)[0]
        # shortest path back to start inside the component (BFS)
        prev, frontier, found = {start: None}, [start], None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph.get(v, {})):
                    if w not in members:
                        continue
                    if w == start:
                        found = v
                        break
                    if w not in prev:
                        prev[w] = v
                        nxt.append(w)
                if found is not None:
                    break
            frontier = nxt
        path = [start]
        v = found
        while v is not None and v != start:
            path.append(v)
            v = prev[v]
        path = [start] + path[1:][::-1] + [start]
        cycles.append(path)
    return cycles
