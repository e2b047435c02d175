"""Kit extension shell: a window with a prompt field and an "Articulate selected" button.

Runs inside NVIDIA Omniverse Kit only (``omni.ext``, ``omni.ui``, ``omni.usd``); not verified in this project's
CI, which has no Kit. The work itself is ``stage_ops`` (tested with usd-core) plus the SDK:
``sdk.Articulator`` in-process, or ``sdk.client.RemoteArticulator`` when ``ARTICULATE_SERVER`` is set.
"""
from __future__ import annotations

import os

try:
    import omni.ext
    import omni.ui as ui
    import omni.usd
except ImportError as e:  # pragma: no cover - outside Kit
    from sdk.errors import MissingDependencyError
    raise MissingDependencyError("omni.kit", "the Omniverse extension", "run it inside Omniverse Kit") from e

from . import stage_ops


def _articulator():
    target = os.environ.get("ARTICULATE_SERVER")
    if target:
        from sdk.client import RemoteArticulator
        return RemoteArticulator(target, token=os.environ.get("ARTICULATE_TOKEN"))
    from sdk import Articulator
    return Articulator()


class ArticulateExtension(omni.ext.IExt):  # pragma: no cover - needs Kit
    def on_startup(self, ext_id):
        self._prompt = ui.SimpleStringModel("")
        self._status = ui.SimpleStringModel("select a prop (an Xform with one Mesh prim per part)")
        self._window = ui.Window("Articulate", width=360, height=140)
        with self._window.frame:
            with ui.VStack(spacing=6):
                ui.StringField(self._prompt)
                ui.Button("Articulate selected", clicked_fn=self._run)
                ui.Label("", model=self._status) if hasattr(ui, "Label") else None

    def _run(self):
        ctx = omni.usd.get_context()
        stage = ctx.get_stage()
        sel = ctx.get_selection().get_selected_prim_paths()
        if not sel:
            self._status.set_value("nothing selected")
            return
        asset, link_prims = stage_ops.prop_from_stage(stage, sel[0])
        prompt = self._prompt.get_value_as_string() or None
        prompts = {n: prompt for n in asset.parts.names} if prompt else None
        art = _articulator().articulate(asset, all_parts=True, prompts=prompts)
        link_prims.setdefault(art.root, sel[0])
        n = stage_ops.animate_articulation(stage, art, link_prims)
        self._status.set_value(f"{len(art.movable_joints())} joints; {n} preview frames on the timeline")

    def on_shutdown(self):
        self._window = None
