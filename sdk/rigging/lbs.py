"""Old home of linear blend skinning: ``sdk.geometry.lbs`` now; the names stay importable."""
from ..geometry._reference import _torch_impl_dense  # noqa: F401
from ..geometry.lbs import linear_blend_skinning  # noqa: F401
