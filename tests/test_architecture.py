"""The dependency rule (docs/architecture.md): every import of the product, walked with ``ast`` (also imports
inside functions and ``importlib.import_module("literal")``), respects the layer table in ``sdk/_layers.py``."""
from __future__ import annotations

from pathlib import Path

from sdk import _layers

ROOT = Path(__file__).resolve().parents[1]


def test_layer_rule_and_no_package_cycles():
    problems = _layers.check(ROOT)
    assert not problems, "dependency rule broken:\n" + "\n".join(problems)


def test_every_module_has_a_layer():
    missing = [str(p.relative_to(ROOT)) for m, p in _layers.iter_modules(ROOT) if _layers.package_of(m) is None]
    assert not missing, f"add these packages to PACKAGES in sdk/_layers.py: {missing}"


def test_the_walk_sees_function_level_and_dynamic_imports(tmp_path):
    # a fake product tree: core importing exporters inside a function, io importing core dynamically
    for d in ("sdk/core", "sdk/io", "exporters"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "__init__.py").write_text("")
    (tmp_path / "sdk/__init__.py").write_text("")
    (tmp_path / "sdk/core/rig.py").write_text("def f():\n    from exporters.usd import w\n")
    (tmp_path / "exporters/usd.py").write_text("from sdk.core import rig\n")
    (tmp_path / "sdk/io/x.py").write_text("import importlib\nimportlib.import_module('sdk.newthing.y')\n")
    (tmp_path / "sdk/newthing").mkdir()
    (tmp_path / "sdk/newthing/__init__.py").write_text("")
    (tmp_path / "sdk/newthing/y.py").write_text("")
    text = "\n".join(_layers.check(tmp_path))
    assert "sdk/core/rig.py:2" in text and "upward edge" in text and "sdk.core is a leaf" in text
    assert "package cycle" in text and "exporters" in text
    assert "sdk/newthing/y.py:1: package of module sdk.newthing.y is not in the layer table" in text
    assert "sdk/io/x.py:2" in text  # the dynamic import of an unknown package names its line


def test_core_imports_nothing_but_errors():
    core = [e for e in _layers.all_edges(ROOT) if _layers.package_of(e.src) == "sdk.core"]
    assert {_layers.package_of(e.dst) for e in core} <= {"sdk.core", "sdk.errors"}
