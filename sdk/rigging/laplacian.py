"""Old home of the welding / Laplacian kernels: they live in ``sdk.geometry`` now; the names stay importable."""
from ..geometry._reference import _torch_impl_cotangent_laplacian  # noqa: F401
from ..geometry.graph import components, edge_graph, unique_edges  # noqa: F401
from ..geometry.laplacian import cotangent_laplacian, cotangent_weights, mass_matrix  # noqa: F401
from ..geometry.weld import Welded, weld  # noqa: F401
