"""Unreal Editor (Python) bridge: rig the selected static mesh on an articulate server and import the skeletal mesh.

Run inside the Unreal Editor's Python console (Editor Scripting + glTF Importer/Interchange plugins enabled) with
``articulate-sdk`` installed in the editor's Python. **Unverified here**: this project's CI has no Unreal Editor.
The network side is ``sdk.client.RemoteArticulator`` (tested); the editor side uses documented ``unreal`` calls.

    import articulate_unreal; articulate_unreal.rig_selected("rigbox:50051", token="...")
"""
from __future__ import annotations

import os
import tempfile


def rig_selected(target: str = "127.0.0.1:50051", token: str | None = None, method: str = "harmonic",
                 destination: str = "/Game/Articulate") -> list[str]:
    import unreal  # only inside the editor

    from sdk.client import RemoteArticulator
    from sdk.io import save
    art = RemoteArticulator(target, token=token)
    imported = []
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
        rig = art.rig(src, method=method)
        out = os.path.join(tmp, f"{asset.get_name()}_rig.glb")
        save(rig, out)
        imp = unreal.AssetImportTask()
        imp.filename, imp.destination_path, imp.automated, imp.save = out, destination, True, True
        unreal.AssetToolsHelpers.get_asset_tools().import_asset_tasks([imp])
        imported += list(imp.imported_object_paths)
        unreal.log(f"articulate: {asset.get_name()} -> {rig.skeleton.n_joints} bones ({', '.join(rig.skeleton.names[:6])})")
    return imported
