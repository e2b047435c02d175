"""Unreal Editor (Python) bridge: rig the selected static meshes on an articulate server and import the rigs.

Run inside the Unreal Editor's Python console (Editor Scripting + glTF Importer/Interchange plugins enabled)
with the **torch-free client** in the editor's Python (``pip install <repo>/clients/python``: grpcio, protobuf,
numpy only — the SDK itself, and torch, stay on the rig server). The static mesh is exported to OBJ (its
sections become OBJ groups, i.e. parts), uploaded, rigged *and exported on the server*; the returned GLB is
imported as a skeletal mesh. **Unverified here**: this project's CI has no Unreal Editor; the network side
(``articulate_client``) is tested against a real server in a venv without torch
(tests/server/test_torch_free_client.py), and ``rig_file_to_glb`` below runs in tests without ``unreal``.

    import articulate_unreal; articulate_unreal.rig_selected("rigbox:50051", token="...")

A C++ client for a plugin module lives next to this file (``cpp/``, ``ArticulatePlugin/``).
"""
from __future__ import annotations

import os
import tempfile


def rig_file_to_glb(client, src: str, out_dir: str, *, method: str = "", progress=None, timeout: float = 600.0) -> tuple[str, object]:
    """Upload ``src`` (OBJ with groups), rig it on the server, write the server's GLB next to it: (glb path, RigResult)."""
    rig = client.rig_file(src, part_source="asset", method=method, formats=["glb"], include_mesh=False,
                          progress=progress, timeout=timeout)
    out = os.path.join(out_dir, os.path.splitext(os.path.basename(src))[0] + "_rig.glb")
    with open(out, "wb") as f:
        f.write(rig.files["rig.glb"])  # sha256-checked by the client
    return out, rig


def rig_selected(target: str = "127.0.0.1:50051", token: str | None = None, method: str = "",
                 destination: str = "/Game/Articulate", timeout: float = 600.0) -> list[str]:
    import unreal  # only inside the editor

    from articulate_client import ArticulateClient, RemoteError
    imported = []
    with ArticulateClient(target, token=token) as client:
        for asset in unreal.EditorUtilityLibrary.get_selected_assets():
            if not isinstance(asset, unreal.StaticMesh):
                continue
            tmp = tempfile.mkdtemp(prefix="articulate-ue-")
            src = os.path.join(tmp, f"{asset.get_name()}.obj")  # OBJ keeps sections as groups -> parts
            task = unreal.AssetExportTask()
            task.object, task.filename, task.automated, task.replace_identical = asset, src, True, True
            task.exporter = unreal.StaticMeshExporterOBJ()
            if not unreal.Exporter.run_asset_export_task(task):
                unreal.log_error(f"articulate: could not export {asset.get_name()}")
                continue
            with unreal.ScopedSlowTask(100, f"Rigging {asset.get_name()} on {target}") as slow:
                slow.make_dialog(True)
                last = [0.0]

                def progress(frac, msg):
                    slow.enter_progress_frame(max(0.0, 100 * (frac - last[0])), msg)
                    last[0] = frac
                try:
                    out, rig = rig_file_to_glb(client, src, tmp, method=method, progress=progress, timeout=timeout)
                except RemoteError as e:
                    unreal.log_error(f"articulate: {asset.get_name()}: {e}")
                    continue
            imp = unreal.AssetImportTask()
            imp.filename, imp.destination_path, imp.automated, imp.save = out, destination, True, True
            unreal.AssetToolsHelpers.get_asset_tools().import_asset_tasks([imp])
            imported += list(imp.imported_object_paths)
            unreal.log(f"articulate: {asset.get_name()} -> {len(rig.joint_names)} bones "
                       f"({', '.join(rig.joint_names[:6])})")
    return imported
