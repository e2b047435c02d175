"""The project's own small renderer: orbit cameras and a torch z-buffer rasterizer (CPU and CUDA).

Mesh arrays in (numpy or torch: ``vertices [V, 3]``, ``faces [F, 3]``), images out::

    from sdk.render import orbit_cameras, render_mesh
    cams = orbit_cameras(azimuth=[0, 1.57], elevation=0.3, width=128)
    out = render_mesh(vertices, faces, cams, face_labels=part_of_face)
    out.rgb     # [N, H, W, 3]   out.labels  # [N, H, W] part id per pixel, -1 background
"""
from .camera import Camera, look_at, orbit_cameras, project
from .gaussians import (SplatResult, covariance_from_quat_scale, gaussians_from_mesh, gsplat_cameras, lbs_gaussians,
                        render_cloud, render_gaussians)
from .raster import Fragments, RenderResult, face_normals, rasterize, render_mesh

__all__ = ["Camera", "look_at", "orbit_cameras", "project", "Fragments", "RenderResult",
           "face_normals", "rasterize", "render_mesh", "SplatResult", "covariance_from_quat_scale",
           "gaussians_from_mesh", "gsplat_cameras", "lbs_gaussians", "render_cloud", "render_gaussians"]
