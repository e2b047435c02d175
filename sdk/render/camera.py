"""Pinhole cameras on an orbit around an object.

Conventions: right-handed world with +Y up. A camera looks down its -Z axis (OpenGL convention),
``world_to_cam`` maps world points into camera space, pixels are ``(u, v)`` with ``u`` to the right
and ``v`` downwards, pixel centres at ``+0.5``.

Azimuth 0 looks at the object from +Z towards -Z; azimuth grows counter-clockwise seen from above.
Elevation is positive above the horizon. Angles are in radians throughout.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


@dataclass
class Camera:
    """A batch of pinhole cameras (all share one image size).

    world_to_cam: Tensor  # [N, 4, 4] rigid transform world -> camera (camera looks down -Z)
    focal: Tensor         # [N] focal length in pixels
    width, height: image size in pixels
    azimuth, elevation: Tensor  # [N] orbit angles (radians) the cameras were made from
    """

    world_to_cam: Tensor
    focal: Tensor
    width: int
    height: int
    azimuth: Tensor
    elevation: Tensor

    def __len__(self) -> int:
        return int(self.world_to_cam.shape[0])

    def to(self, device) -> "Camera":
        return Camera(self.world_to_cam.to(device), self.focal.to(device), self.width, self.height,
                      self.azimuth.to(device), self.elevation.to(device))

    def __getitem__(self, idx) -> "Camera":
        sl = idx if isinstance(idx, slice) else slice(idx, idx + 1)
        return Camera(self.world_to_cam[sl], self.focal[sl], self.width, self.height,
                      self.azimuth[sl], self.elevation[sl])

    @property
    def device(self):
        return self.world_to_cam.device


def look_at(eye: Tensor, target: Tensor, up: Tensor | None = None) -> Tensor:
    """World->camera matrices for cameras at ``eye`` looking at ``target``.

    eye: Tensor     # [N, 3]
    target: Tensor  # [N, 3] or [3]
    returns         # [N, 4, 4]
    """
    eye = eye.to(torch.float32)
    target = torch.as_tensor(target, dtype=eye.dtype, device=eye.device).expand_as(eye)
    if up is None:
        up = torch.tensor([0.0, 1.0, 0.0], dtype=eye.dtype, device=eye.device)
    up = up.expand_as(eye)
    z = eye - target  # camera +Z points away from the target
    z = z / z.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    x = torch.cross(up, z, dim=-1)
    # looking straight up/down: pick another up vector
    bad = x.norm(dim=-1) < 1e-6
    if bool(bad.any()):
        alt = torch.tensor([0.0, 0.0, 1.0], dtype=eye.dtype, device=eye.device).expand_as(eye)
        x = torch.where(bad[:, None], torch.cross(alt, z, dim=-1), x)
    x = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    y = torch.cross(z, x, dim=-1)
    rot = torch.stack([x, y, z], dim=1)  # rows: camera axes in world coords
    m = torch.eye(4, dtype=eye.dtype, device=eye.device).repeat(eye.shape[0], 1, 1)
    m[:, :3, :3] = rot
    m[:, :3, 3] = -(rot @ eye[:, :, None])[:, :, 0]
    return m


def orbit_cameras(azimuth, elevation, radius: float = 2.5, fov_deg: float = 40.0,
                  width: int = 64, height: int | None = None, target=(0.0, 0.0, 0.0),
                  device="cpu") -> Camera:
    """Cameras on a sphere around ``target`` looking at it.

    azimuth: array-like    # [N] radians
    elevation: array-like  # [N] radians (broadcast against azimuth)
    radius: distance from target; fov_deg: vertical field of view.
    """
    height = width if height is None else height
    az = torch.as_tensor(np.asarray(azimuth, dtype=np.float32), device=device).reshape(-1)
    el = torch.as_tensor(np.asarray(elevation, dtype=np.float32), device=device).reshape(-1)
    az, el = torch.broadcast_tensors(az, el)
    tgt = torch.tensor(target, dtype=torch.float32, device=device)
    eye = torch.stack([radius * torch.cos(el) * torch.sin(az), radius * torch.sin(el),
                       radius * torch.cos(el) * torch.cos(az)], dim=-1) + tgt
    w2c = look_at(eye, tgt)
    focal = torch.full((eye.shape[0],), 0.5 * height / math.tan(math.radians(fov_deg) / 2), device=device)
    return Camera(w2c, focal, width, height, az.clone(), el.clone())


def project(points: Tensor, cameras: Camera) -> tuple[Tensor, Tensor]:
    """Project world points into every camera.

    points: Tensor  # [P, 3] or [N, P, 3] (one point set per camera)
    returns (uv [N, P, 2] pixel coordinates, depth [N, P] distance along the viewing axis, > 0 in front)
    """
    pts = points.to(torch.float32)
    if pts.ndim == 2:
        pts = pts[None].expand(len(cameras), -1, -1)
    w2c = cameras.world_to_cam.to(pts.device)
    cam = pts @ w2c[:, :3, :3].transpose(1, 2) + w2c[:, None, :3, 3]
    depth = -cam[..., 2]
    f = cameras.focal.to(pts.device)[:, None]
    d = depth.clamp_min(1e-8)
    u = f * cam[..., 0] / d + cameras.width / 2
    v = -f * cam[..., 1] / d + cameras.height / 2
    return torch.stack([u, v], dim=-1), depth
