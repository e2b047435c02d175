"""CPU ablation of the 4D-GS motion settings (docs/gaussians.md 3.6 / 3.7): a small dense24 subset of one clip.

    SZ=48 VSTEP=3 NG=2000 BATCH=16 FR=8 ASSET=Fox OMP_NUM_THREADS=1 PYTHONPATH=$PWD \
        python bench/bench_gs4d_ablation.py NAME 150 key=value ...    (key = a Fit4DConfig field, value a Python literal)

The rendered ground truth is cached in /tmp/meshbind; results go to /tmp/meshbind/res_NAME.json."""
import sys, json, time, pickle, os
import numpy as np, torch
sys.path.insert(0, os.getcwd())
from pathlib import Path
from dataclasses import replace
from sdk.core.multiview import MultiViewVideo
from sdk.gs4d.fit import Fit4DConfig, canonical_from_mesh, fit_4dgs
from sdk.evaluation.gs4d import motion_error, image_metrics
name, iters = sys.argv[1], int(sys.argv[2])
asset_name = os.environ.get("ASSET", "Fox")
ov = {}
for kv in sys.argv[3:]:
    k, v = kv.split("="); ov[k] = eval(v)
cache = Path(f"/tmp/meshbind/data_{asset_name}_{os.environ.get('SZ',64)}_{os.environ.get('VSTEP',2)}_{os.environ.get('NG',3000)}.pkl")
if cache.exists():
    train, gt, can = pickle.load(open(cache, "rb"))
else:
    from sdk.io.gltf import load_gltf
    from sdk.render.views import render_asset_views
    files = {"Fox": ("Fox/Fox.glb", "Run"), "CesiumMan": ("CesiumMan/CesiumMan.glb", None), "Wolf": ("Quaternius_Wolf/Wolf.glb", "Gallop")}
    f, clip = files[asset_name]
    asset = load_gltf(Path("/work/shared/data/rigged") / f)
    train, gt = render_asset_views(asset, clip, protocol="dense24", n_frames=int(os.environ.get("FR", 8)), size=int(os.environ.get("SZ", 64)), supersample=2)
    keep = list(range(0, 24, int(os.environ.get("VSTEP", 2))))
    train = MultiViewVideo(train.frames[keep], train.masks[keep], train.world_to_cam[keep], train.focal[keep], train.times,
                           train.fps, train.background, [train.view_names[i] for i in keep], train.name, None, train.meta)
    ap = asset.appearance
    can = canonical_from_mesh(gt["canonical"], gt["faces"], int(os.environ.get("NG", 3000)), vertex_colors=ap.vertex_colors,
                              uvs=ap.uvs if ap.texture is not None else None, texture=ap.texture,
                              textured=ap.textured if ap.texture is not None else None)
    pickle.dump((train, gt, can), open(cache, "wb"))
cfg = Fit4DConfig(iterations=iters, refine_iterations=iters // 4, progressive_iterations=3 * iters // 4, batch=int(os.environ.get("BATCH", 32)), **ov)
tracks = None
if os.environ.get("GT_TRACKS"):
    from sdk.tracking import gt_tracks
    from sdk.gs4d.fit import video_cameras
    tr, vi, _ = gt_tracks(gt["vertices"], gt["faces"], video_cameras(train))
    tracks = (tr, vi)
t0 = time.time()
res = fit_4dgs(train, can, cfg, canonical_vertices=len(gt["canonical"]), faces=gt["faces"], tracks=tracks)
diag = float(np.linalg.norm(gt["vertices"].reshape(-1, 3).max(0) - gt["vertices"].reshape(-1, 3).min(0)))
me = motion_error(res.model, gt["canonical"], gt["vertices"], train.times, diag)
im = image_metrics(res.model, train, "cpu")
import igl
traj = res.model.trajectories(len(gt["canonical"]), train.times).numpy()
surf = [np.sqrt(igl.point_mesh_squared_distance(traj[k].astype(np.float64), gt["vertices"][k].astype(np.float64), gt["faces"].astype(np.int64))[0]).mean() for k in range(len(traj))]
torch.save(res.model.state_dict(), f"/tmp/meshbind/model_{name}.pt")
from sdk.gs4d.export import fitted_mesh_sequence
fm = fitted_mesh_sequence(res.model, len(gt["canonical"]), gt["faces"], train.times).vertices
fm_err = float(100 * np.sqrt(((fm - gt["vertices"]) ** 2).sum(-1).mean(1)).mean() / diag)
fm_pf = (100 * np.sqrt(((fm - gt["vertices"]) ** 2).sum(-1).mean(1)) / diag).round(2).tolist()
out = dict(fitted_mesh_rmse=fm_err, fitted_mesh_pf=fm_pf, name=name, ov=ov, iters=iters, secs=time.time() - t0, train_psnr=im["psnr"], rmse=me["rmse_pct"], zero=me["zero_motion_pct"],
           median=me["median_pct"], per_frame=me["per_frame_pct"], offsurf_pct=100 * float(np.mean(surf)) / diag, hist=res.history[-1])
print(json.dumps(out))
open(f"/tmp/meshbind/res_{name}.json", "w").write(json.dumps(out))
