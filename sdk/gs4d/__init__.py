"""4D Gaussian splatting with a HexPlane deformation field (Track4DGen stage 2, Sec. 3.3).

    from sdk.gs4d import Fit4DConfig, canonical_from_mesh, fit_4dgs
    result = fit_4dgs(video, canonical_from_mesh(v0, faces, vertex_colors=c), Fit4DConfig(), device="cuda")
    result.model.field.query(points, t)      # the deformation field phi(x, t)
"""
from .deform import Deltas, DeformationField
from .fit import MESH_BOUND, PAPER_SCHEDULE, TRACKING_GUIDED, FitResult, Fit4DConfig, canonical_from_mesh, fit_4dgs, render_model, video_cameras
from .hexplane import HexPlaneField
from .tracks import TrackTargets, track_loss, video_tracks
from .losses import arap_loss, knn_graph, mesh_edge_graph, reconstruction_loss, sds_x0_loss
from .model import Gaussians4D

__all__ = ["MESH_BOUND", "PAPER_SCHEDULE", "TRACKING_GUIDED", "Deltas", "DeformationField", "FitResult", "Fit4DConfig", "canonical_from_mesh", "fit_4dgs",
           "render_model", "video_cameras", "HexPlaneField", "arap_loss", "knn_graph", "mesh_edge_graph", "reconstruction_loss",
           "sds_x0_loss", "Gaussians4D", "TrackTargets", "track_loss", "video_tracks"]
