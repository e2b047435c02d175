"""The Kit extension against a real server through the torch-free client, with stand-in ``omni`` modules, in a
process where importing ``sdk`` or ``torch`` fails (as in a Kit Python that has only articulate-client)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys, types
repo, client_src, stage_path, out_path = sys.argv[1:5]

class Block:  # Kit's Python with only the torch-free client: no SDK, no torch
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sdk", "torch"):
            raise ImportError(f"{name} is not installed here")
        return None
sys.meta_path.insert(0, Block())
sys.path[:0] = [repo, client_src]

from pxr import Usd
stage = Usd.Stage.Open(stage_path)
buttons = []

class Model:
    def __init__(self, v=""): self.v = v
    def get_value_as_string(self): return self.v
    def set_value(self, v): self.v = v

class Block_:
    def __enter__(self): return self
    def __exit__(self, *a): return False

class Window:
    def __init__(self, title, **kw): self.frame = Block_()

omni, ext, ui, usd = (types.ModuleType(n) for n in ("omni", "omni.ext", "omni.ui", "omni.usd"))
ext.IExt = type("IExt", (), {})
ui.SimpleStringModel, ui.Window = Model, Window
ui.VStack = lambda **kw: Block_()
ui.StringField = lambda model: None
ui.Button = lambda text, clicked_fn=None: buttons.append(clicked_fn)
ui.Label = lambda text, model=None: None
class Selection:
    def get_selected_prim_paths(self): return ["/Cabinet"]
class Context:
    def get_stage(self): return stage
    def get_selection(self): return Selection()
usd.get_context = lambda: Context()
omni.ext, omni.ui, omni.usd = ext, ui, usd
sys.modules.update({"omni": omni, "omni.ext": ext, "omni.ui": ui, "omni.usd": usd})

from engine_bridges.omniverse.articulate_bridge import extension
e = extension.ArticulateExtension()
e.on_startup("articulate")
e._prompt.set_value("open the door")
buttons[0]()
stage.GetRootLayer().Export(out_path)
print(json.dumps({"status": e._status.get_value_as_string(), "torch": "torch" in sys.modules,
                  "sdk": sorted(m for m in sys.modules if m == "sdk" or m.startswith("sdk."))}))
"""


def test_kit_extension_with_the_torch_free_client(samples_dir, tmp_path):
    from pxr import Usd, UsdGeom

    from sdk.client import RemoteArticulator
    from sdk.server.server import ServerOptions, start_server
    from tests.bridges.test_omniverse_stage_ops import _cabinet_stage
    st, src = _cabinet_stage(samples_dir)
    stage_path = tmp_path / "cabinet.usda"
    st.GetRootLayer().Export(str(stage_path))
    running = start_server(ServerOptions(port=0, tokens=["kit-token-0123456789"]))
    try:
        env = dict(os.environ, ARTICULATE_SERVER=running.target, ARTICULATE_TOKEN="kit-token-0123456789")
        env.pop("PYTHONPATH", None)
        out = tmp_path / "animated.usda"
        r = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), str(ROOT / "clients" / "python" / "src"),
                            str(stage_path), str(out)], capture_output=True, text=True, timeout=600, env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        got = json.loads(r.stdout.strip().splitlines()[-1])
        assert not got["torch"] and got["sdk"] == []
        # the same joints as the SDK's own client gets from the server
        from engine_bridges.omniverse.articulate_bridge import stage_ops
        asset, _ = stage_ops.prop_from_stage(Usd.Stage.Open(str(stage_path)), "/Cabinet")
        with RemoteArticulator(running.target, token="kit-token-0123456789", timeout=600) as c:
            ref = c.articulate(asset, all_parts=True, prompts={n: "open the door" for n in asset.parts.names})
        assert got["status"] == f"{len(ref.movable_joints())} joints; 48 preview frames on the timeline", got
        animated = Usd.Stage.Open(str(out))
        for j in ref.movable_joints():
            prim = animated.GetPrimAtPath(f"/Cabinet/{j.child}")
            ops = UsdGeom.Xformable(prim).GetOrderedXformOps()
            assert ops and ops[0].GetNumTimeSamples() == 48
            a, b = np.asarray(ops[0].Get(0)), np.asarray(ops[0].Get(12))
            assert np.abs(a - b).max() > 1e-4, f"{j.child} does not move"
    finally:
        running.shutdown(0)


def test_numpy_joint_motion_matches_the_sdk():
    from engine_bridges.omniverse.articulate_bridge import stage_ops
    from sdk.articulation.axis_search import joint_transform
    from sdk.core import Joint
    for t in ("revolute", "prismatic", "fixed", "continuous"):
        j = Joint("j", t, "a", "b", np.array([0.3, -0.2, 1.0]), np.array([0.0, 0.6, 0.8]), -1.0, 1.0, 1.0, {})
        for amount in (0.0, 0.7, -1.3):
            np.testing.assert_allclose(stage_ops.joint_motion(j, amount), joint_transform(t, j.origin, j.axis, amount),
                                       atol=1e-12)
