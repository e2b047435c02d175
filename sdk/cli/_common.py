"""What every sub-command checks the same way, with the same words (``sdk.errors`` helpers): input paths before
any work. A command declares its inputs with ``p.set_defaults(inputs={name: role})``; :func:`check_inputs` runs
in ``sdk.cli.main`` before the command.

Roles: ``"asset"`` (a mesh/parts/rig file the format registry reads), ``"sequence"`` (a clip file or a folder of
frames), ``"rig"`` (a rig file: glTF/GLB, USD, FBX), ``"folder"`` (must be a directory), ``"file"`` (any existing
file), ``"labels"`` (an existing part-label file).
"""
from __future__ import annotations

import math
from pathlib import Path

NOUNS = {"folder": "folder", "labels": "part-label file"}  # what "no such ..." names (default: file)


def rig_suffixes() -> tuple[str, ...]:
    """Suffixes of the formats that read a file *and* write rigs (glTF, USD incl. .usdz, FBX): the rig inputs,
    from the format registry (the one list)."""
    from ..io import formats
    return tuple(s for f in formats.FORMATS.values() if f.read_asset is not None and "rig" in f.writers
                 for s in f.suffixes)


def check_path(path, role: str, *, what: str = "input") -> Path:
    """One check of one input path for ``role``; the error names the path and the problem."""
    from ..errors import is_a_directory, no_such_file, not_a_directory, unknown_suffix
    from ..io import formats
    p = Path(path)
    if not p.exists():
        raise no_such_file(p, NOUNS.get(role, "file"))
    if role == "folder":
        if not p.is_dir():
            raise not_a_directory(p)
        return p
    if p.is_dir():
        if role == "sequence":
            return p
        raise is_a_directory(p, "a " + NOUNS.get(role, "file"))
    accepted = {"asset": formats.suffixes("asset"), "sequence": formats.suffixes("sequence"),
                "rig": rig_suffixes()}.get(role)
    if accepted is not None and p.suffix.lower() not in accepted:
        if role == "sequence":
            accepted = (*accepted, "a folder of frames")
        raise unknown_suffix(p, accepted, what)
    return p


def check_inputs(args) -> None:
    """Every declared input of the parsed command (``args.inputs``: {name: role}, a positional by its dest, an
    option by its flag, e.g. ``{"input": "asset", "--parts": "labels"}``); unset optional ones are skipped."""
    for name, role in (vars(args).get("inputs") or {}).items():
        value = vars(args).get(name.lstrip("-").replace("-", "_"))
        if value is not None:
            check_path(value, role, what=name if name.startswith("--") else "input")


def _rule_text(rule: str) -> str:
    """"int>=1" -> "an integer >= 1"; "int1..16" -> "an integer in 1..16"; ">0" -> "a number > 0"."""
    is_int = rule.startswith("int")
    bound = rule[3:] if is_int else rule
    noun = "an integer" if is_int else "a number"
    if ".." in bound:
        return f"{noun} in {bound}"
    op = ">=" if bound.startswith(">=") else ">"
    return f"{noun} {op} {bound[len(op):]}"


def _ok(value, rule: str) -> bool:
    is_int = rule.startswith("int")
    bound = rule[3:] if is_int else rule
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if ".." in bound:
        lo, hi = (float(x) for x in bound.split(".."))
        return lo <= value <= hi
    if bound.startswith(">="):
        return value >= float(bound[2:])
    if bound.startswith(">"):
        return value > float(bound[1:])
    raise ValueError(f"unknown flag rule {rule!r}")


def check_flags(args) -> None:
    """Numeric flags against their declared rule (``args.flags``: {"--flag": rule}, rules "int>=1", "int1..16",
    ">0", ">=0"); a value outside is ``--FLAG VALUE: must be ...`` (``sdk.errors.bad_flag``), before any work."""
    from ..errors import bad_flag
    for flag, rule in (vars(args).get("flags") or {}).items():
        value = vars(args).get(flag.lstrip("-").replace("-", "_"))
        if value is not None and not _ok(value, rule):
            raise bad_flag(flag, value, "must be " + _rule_text(rule))
