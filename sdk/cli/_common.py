"""What every sub-command checks the same way, with the same words (``sdk.errors`` helpers): input paths before
any work. A command declares its inputs with ``p.set_defaults(inputs={dest: role})``; :func:`check_inputs` runs
in ``sdk.cli.main`` before the command.

Roles: ``"asset"`` (a mesh/parts/rig file the format registry reads), ``"sequence"`` (a clip file or a folder of
frames), ``"rig"`` (a rig file: glTF/GLB, USD, FBX), ``"folder"`` (must be a directory), ``"file"`` (any existing
file), ``"labels"`` (an existing part-label file).
"""
from __future__ import annotations

from pathlib import Path

RIG_SUFFIXES = (".glb", ".gltf", ".usd", ".usda", ".usdc", ".fbx")
NOUNS = {"folder": "folder", "labels": "part-label file"}  # what "no such ..." names (default: file)


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
                "rig": RIG_SUFFIXES}.get(role)
    if accepted is not None and p.suffix.lower() not in accepted:
        if role == "sequence":
            accepted = (*accepted, "a folder of frames")
        raise unknown_suffix(p, accepted, what)
    return p


def check_inputs(args) -> None:
    """Every declared input of the parsed command (``args.inputs``: {dest: role}); unset optional ones skipped."""
    for dest, role in (vars(args).get("inputs") or {}).items():
        value = vars(args).get(dest)
        if value is None:
            continue
        check_path(value, role, what=f"--{dest.replace('_', '-')}" if dest in _OPTIONS else "input")


#: dests that are options (named with --) rather than positionals, for the error's wording
_OPTIONS = {"parts", "weights", "mesh", "sam_checkpoint", "token_file", "tls_cert", "tls_key", "prompt_embeds"}
