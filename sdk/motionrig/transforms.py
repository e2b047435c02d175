"""Old home of the rigid-fit kernels: ``sdk.geometry.rigid`` now; the names stay importable."""
from ..geometry._reference import _reference_kabsch  # noqa: F401
from ..geometry.rigid import apply, fit_part_transforms, kabsch, rotation_from_covariance, to_matrix  # noqa: F401
