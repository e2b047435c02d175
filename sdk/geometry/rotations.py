"""Rotations from axis-angle (Rodrigues).

``axis_angle_matrix`` is the hand-written numpy kernel of ``sdk.core.transforms`` (core's joint kinematics use it
too), kept instead of ``scipy.spatial.transform.Rotation.from_rotvec`` because it is measured faster on the batches
the ATOP search evaluates (64 angles: 60 us vs 154 us; one angle: 41 us vs 44 us, this machine, loaded) and matches
it to 1e-15; ``_reference.axis_angle_matrix_scipy`` is the scipy reference the tests compare against.
"""
from __future__ import annotations

from ..core.transforms import axis_angle_to_matrix as axis_angle_matrix  # noqa: F401
