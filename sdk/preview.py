"""Old home of the rig preview: ``sdk.render.preview`` now (the one preview module); the names stay importable."""
from .render.preview import palette, render_rig_preview  # noqa: F401
