"""Error types. Every error names what is wrong: the file, the vertex, the part id."""
from __future__ import annotations


class ArticulateError(Exception):
    """Base class of every error the SDK raises on purpose."""


class InvalidInputError(ArticulateError, ValueError):
    """Input data is malformed (NaN vertex, label out of range, empty part, ...).

    ``field`` names the offending piece (``"vertices[12]"``, ``"parts"``, ``"part 3"``)
    so servers can map it onto ``INVALID_ARGUMENT`` with a field name.
    """

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None):
        self.field = field
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + message)


class AssetReadError(ArticulateError, IOError):
    """A file could not be read or parsed (missing, truncated, unsupported)."""

    def __init__(self, path, message: str):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


class MissingWeightsError(ArticulateError, FileNotFoundError):
    """A learned model's checkpoint file is not present.

    Names the file to provide and where to put it.
    """

    def __init__(self, model: str, filename: str, directory: str, hint: str = ""):
        # not ``self.filename``: OSError.__str__ would then print "[Errno None] None: 'file'"
        self.model, self.weights_file, self.directory = model, filename, directory
        msg = (f"model '{model}' needs weights file '{filename}' which is not present; "
               f"place it at {directory}/{filename} (or set ARTICULATE_WEIGHTS_DIR)")
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class MissingDependencyError(ArticulateError, ImportError):
    """An optional dependency is needed for the requested feature."""

    def __init__(self, package: str, feature: str, install: str | None = None):
        self.package = package
        hint = install or f"pip install {package}"
        super().__init__(f"{feature} needs the optional package '{package}': {hint}")


class ArticulationWarning(UserWarning):
    """A joint was estimated, or replaced by a fixed joint, under a doubt the message names (part blocked or
    inside the body, a prompt naming another part or in another language, a part of a handful of vertices)."""


class MotionWarning(UserWarning):
    """A sequence is usable but suspicious (no motion, dropped frames)."""


class Cancelled(ArticulateError):
    """Work stopped because its progress callback asked it to (``sdk.util.progress.cancellable``)."""


# -- one wording for one problem (every sub-command, the server and the readers use these) -----------------
def no_such_file(path, what: str = "file") -> AssetReadError:
    """``PATH: no such file`` (``what``: "file", "weights file", "folder", ...)."""
    return AssetReadError(path, f"no such {what}")


def is_a_directory(path, expected: str = "a file") -> AssetReadError:
    """``PATH: is a directory, not a file`` (or ``expected``)."""
    return AssetReadError(path, f"is a directory, not {expected}")


def not_a_directory(path) -> AssetReadError:
    return AssetReadError(path, "is a file, not a folder")


def unknown_suffix(path, accepted, what: str = "input", *, field: str | None = None) -> InvalidInputError:
    """``PATH: unknown suffix '.xyz' for an input (use .glb, .obj, ...)``."""
    from pathlib import Path
    suf = Path(str(path)).suffix.lower() or "(none)"
    return InvalidInputError(f"{path}: unknown suffix '{suf}' for {what} (use {', '.join(accepted)})",
                             field=field or what)


def bad_flag(flag: str, value, expected: str) -> InvalidInputError:
    """``--FLAG VALUE: EXPECTED`` for a flag value that parses but makes no sense."""
    return InvalidInputError(f"{flag} {value}: {expected}", field=flag)
