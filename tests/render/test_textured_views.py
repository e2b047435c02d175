"""UV textures + supersampling in the mesh renderer, glTF appearance, multi-view folders and their bad input."""
import json
import shutil

import numpy as np
import pytest
import torch

from sdk.errors import AssetReadError, InvalidInputError
from sdk.render import orbit_cameras, render_mesh
from sdk.render.raster import sample_texture


def test_sample_texture_bilinear_and_gltf_orientation():
    tex = torch.zeros(2, 4, 1)
    tex[0, :, 0] = torch.tensor([0.0, 1.0, 2.0, 3.0])  # top row
    tex[1, :, 0] = 10.0                                # bottom row
    uv = torch.tensor([[0.125, 0.25], [0.25, 0.25], [0.125, 0.75], [0.125, 0.5]])
    out = sample_texture(tex, uv)[:, 0]
    # texel centres: u = (i + .5) / 4, v = (j + .5) / 2; v = 0 is the top row (glTF)
    assert torch.allclose(out, torch.tensor([0.0, 0.5, 10.0, 5.0]))


def _quad(z=0.0):
    v = np.array([[-0.5, -0.5, z], [0.5, -0.5, z], [0.5, 0.5, z], [-0.5, 0.5, z]])
    f = np.array([[0, 1, 2], [0, 2, 3]])
    uv = np.array([[0, 1], [1, 1], [1, 0], [0, 0]], dtype=float)  # glTF: v = 0 at the top
    return v, f, uv


def test_textured_quad_shows_the_image_upright():
    v, f, uv = _quad()
    tex = np.zeros((8, 8, 3))
    tex[:4, :, 0] = 1.0   # top half red
    tex[4:, :, 2] = 1.0   # bottom half blue
    cams = orbit_cameras([0.0], 0.0, radius=2.0, width=64)
    r = render_mesh(v, f, cams, uvs=uv, texture=tex, ambient=1.0, background=0.0)
    top, bottom = r.rgb[0, 24, 32], r.rgb[0, 40, 32]
    assert top[0] > 0.95 and top[2] < 0.05 and bottom[2] > 0.95 and bottom[0] < 0.05


def test_supersampling_antialiases_edges_and_keeps_interior():
    v, f, _ = _quad()
    cams = orbit_cameras([0.0], 0.0, radius=2.0, width=33)
    one = render_mesh(v, f, cams, face_colors=np.ones((2, 3)), ambient=1.0, background=0.0)
    ss = render_mesh(v, f, cams, face_colors=np.ones((2, 3)), ambient=1.0, background=0.0, supersample=4)
    assert set(np.unique(one.rgb.numpy()).tolist()) <= {0.0, 1.0}
    frac = ss.coverage[0].numpy()
    assert ((frac > 0.05) & (frac < 0.95)).any()            # partial edge pixels exist
    assert np.isclose(ss.rgb[0, 16, 16, 0].item(), 1.0)      # interior unchanged
    # total coverage approximates the exact projected area better than the aliased mask
    f_px = float(cams.focal[0])
    exact = (f_px * 1.0 / 2.0) ** 2
    assert abs(frac.sum() - exact) <= abs(one.mask[0].float().sum().item() - exact) + 1e-6
    assert abs(frac.sum() - exact) / exact < 0.02
    assert ss.face_id.shape == (1, 33, 33) and ss.depth[0, 16, 16] == pytest.approx(2.0, rel=1e-4)


def test_gltf_appearance_cesiumman_texture(shared_data):
    from sdk.io.gltf import load_gltf
    a = load_gltf(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb")
    ap = a.appearance
    assert ap.texture is not None and ap.texture.shape[2] == 3 and ap.textured.all()
    assert ap.uvs.shape == (a.mesh.n_vertices, 2) and a.mesh.uvs is not None
    assert 0 <= ap.uvs.min() and ap.uvs.max() <= 1
    r = load_gltf(shared_data / "rigged" / "RobotExpressive" / "RobotExpressive.glb").appearance
    assert r.texture is None and not r.textured.any()
    assert len(np.unique(np.round(r.vertex_colors, 3), axis=0)) >= 3  # three materials' base colours


def test_render_views_folder_round_trip_and_bad_input(shared_data, tmp_path):
    from exporters.multiview import write_multiview
    from sdk.io.gltf import load_gltf
    from sdk.io.multiview import read_gt, read_multiview
    from sdk.render.views import protocol_angles, render_asset_views
    az, el = protocol_angles("dense24")
    assert len(az) == 24 and np.degrees(el).min() > -31 and np.degrees(el).max() < 76
    a = load_gltf(shared_data / "rigged" / "Fox" / "Fox.glb")
    video, gt = render_asset_views(a, "Run", protocol="paper4", n_frames=3, size=32, supersample=1)
    assert video.frames.shape == (4, 3, 32, 32, 3) and np.allclose(video.times, [0, 0.5, 1])
    ext = gt["vertices"].reshape(-1, 3)
    assert np.isclose((ext.max(0) - ext.min(0)).max(), 1.0)  # unit bounding box over the clip
    d = write_multiview(video, tmp_path / "v", gt)
    back = read_multiview(d)
    assert np.abs(back.frames - video.frames).max() <= 0.5 / 255 + 1e-6
    assert np.allclose(back.world_to_cam, video.world_to_cam) and back.view_names == video.view_names
    assert np.allclose(read_gt(d)["vertices"], gt["vertices"])
    # mismatched frame count
    bad = tmp_path / "bad1"
    shutil.copytree(d, bad)
    (bad / video.view_names[2] / "0002.png").unlink()
    with pytest.raises(InvalidInputError, match="different frame counts"):
        read_multiview(bad)
    # mismatched resolution
    bad = tmp_path / "bad2"
    shutil.copytree(d, bad)
    from PIL import Image
    Image.new("RGBA", (16, 16)).save(bad / video.view_names[1] / "0001.png")
    with pytest.raises(InvalidInputError, match="frame 1 is 16x16"):
        read_multiview(bad)
    # NaN camera
    bad = tmp_path / "bad3"
    shutil.copytree(d, bad)
    doc = json.loads((bad / "cameras.json").read_text())
    doc["views"][3]["world_to_cam"][0][3] = float("nan")
    (bad / "cameras.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidInputError, match="view 3"):
        read_multiview(bad)
    # empty mask (a camera that does not see the object)
    bad = tmp_path / "bad4"
    shutil.copytree(d, bad)
    Image.new("RGBA", (32, 32), (128, 128, 128, 0)).save(bad / video.view_names[0] / "0001.png")
    with pytest.raises(InvalidInputError, match="frame 1 has an empty mask"):
        read_multiview(bad)
    # a 1-frame video
    bad = tmp_path / "bad5"
    shutil.copytree(d, bad)
    for n in video.view_names:
        for k in (1, 2):
            (bad / n / f"{k:04d}.png").unlink()
    doc = json.loads((bad / "cameras.json").read_text())
    doc["times"] = [0.0]
    (bad / "cameras.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidInputError, match="1-frame video"):
        read_multiview(bad)
    with pytest.raises(AssetReadError, match="cameras.json"):
        read_multiview(tmp_path)


def test_render_views_cli(shared_data, tmp_path):
    from sdk.cli import main
    out = tmp_path / "cm"
    assert main(["render-views", str(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb"), "-o", str(out),
                 "--frames", "2", "--size", "24", "--supersample", "1"]) == 0
    assert (out / "cameras.json").exists() and (out / "preview.png").exists()
    assert main(["render-views", str(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb"), "-o", str(out),
                 "--clip", "nope"]) == 2
    assert main(["render-views", str(shared_data / "rigged" / "CesiumMan" / "CesiumMan.glb"), "-o", str(out),
                 "--frames", "1"]) == 2


def test_reconstruct_4d_cli_tiny(shared_data, tmp_path):
    from sdk.cli import main
    views = tmp_path / "v"
    assert main(["render-views", str(shared_data / "rigged" / "Fox" / "Fox.glb"), "--clip", "Run", "-o", str(views),
                 "--frames", "2", "--size", "24", "--supersample", "1"]) == 0
    out = tmp_path / "out"
    assert main(["reconstruct-4d", str(views), "-o", str(out), "--iterations", "2", "--batch", "4",
                 "--gaussians", "100", "--device", "cpu", "--time-basis", "1"]) == 0
    for f in ("model.pt", "mesh_sequence.npz", "report.json", "preview.png", "splats/frame_0001.ply"):
        assert (out / f).exists(), f
    assert main(["reconstruct-4d", str(tmp_path), "-o", str(out)]) == 2  # not a multi-view folder
