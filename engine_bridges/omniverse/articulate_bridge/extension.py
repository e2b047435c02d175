"""Kit extension shell: a window with a prompt field and an "Articulate selected" button.

Runs inside NVIDIA Omniverse Kit (``omni.ext``, ``omni.ui``, ``omni.usd``). With ``ARTICULATE_SERVER=host:port``
(and ``ARTICULATE_TOKEN``) the joints come from an ``articulate serve`` server through the **torch-free client**
(``articulate_client``: grpcio + protobuf + numpy), so Kit's Python needs neither torch nor the SDK; without it,
the SDK runs in Kit's Python. Tested against a real server with stand-in ``omni`` modules
(tests/bridges/test_omniverse_extension.py), in a process where importing ``sdk`` or ``torch`` fails; the
real Kit UI is unverified (no Kit in CI).
"""
from __future__ import annotations

import os

try:
    import omni.ext
    import omni.ui as ui
    import omni.usd
except ImportError as e:  # pragma: no cover - outside Kit
    raise ImportError(f"the Omniverse extension runs inside Omniverse Kit ({e})") from e

from . import stage_ops


def articulate_selection(stage, prim_path: str, prompt: str | None = None) -> tuple[object, int]:
    """Estimate the joints of the prop at ``prim_path`` and author the timeline preview: (articulation, frames)."""
    target = os.environ.get("ARTICULATE_SERVER")
    if target:
        from articulate_client import ArticulateClient
        prop = stage_ops.prop_arrays_from_stage(stage, prim_path)
        prompts = {n: prompt for n in prop.names} if prompt else None
        with ArticulateClient(target, token=os.environ.get("ARTICULATE_TOKEN"), timeout=600) as client:
            art = client.articulate(prop.vertices, prop.faces, prop.labels, prop.names, all_parts=True, prompts=prompts)
        link_prims = dict(prop.paths)
    else:
        from sdk import Articulator
        asset, link_prims = stage_ops.prop_from_stage(stage, prim_path)
        prompts = {n: prompt for n in asset.parts.names} if prompt else None
        art = Articulator().articulate(asset, all_parts=True, prompts=prompts)
    link_prims.setdefault(art.root, prim_path)
    return art, stage_ops.animate_articulation(stage, art, link_prims)


class ArticulateExtension(omni.ext.IExt):
    def on_startup(self, ext_id):
        self._prompt = ui.SimpleStringModel("")
        self._status = ui.SimpleStringModel("select a prop (an Xform with one Mesh prim per part)")
        self._window = ui.Window("Articulate", width=360, height=140)
        with self._window.frame:
            with ui.VStack(spacing=6):
                ui.StringField(self._prompt)
                ui.Button("Articulate selected", clicked_fn=self._run)
                ui.Label("", model=self._status)

    def _run(self):
        ctx = omni.usd.get_context()
        stage = ctx.get_stage()
        sel = ctx.get_selection().get_selected_prim_paths()
        if not sel:
            self._status.set_value("nothing selected")
            return
        try:
            art, n = articulate_selection(stage, sel[0], self._prompt.get_value_as_string() or None)
        except Exception as e:  # noqa: BLE001 - shown in the window, not a Kit traceback
            self._status.set_value(f"failed: {e}")
            return
        self._status.set_value(f"{len(art.movable_joints())} joints; {n} preview frames on the timeline")

    def on_shutdown(self):
        self._window = None
