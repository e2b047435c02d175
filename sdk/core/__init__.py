"""Core data model (a leaf: numpy types and their invariants; imports only ``sdk.errors``)."""
from .animation import Animation
from .articulation import Articulation, Joint, Link
from .gaussians import GaussianCloud, GaussianSequence
from .mesh import Mesh, PartLabels
from .rig import Rig
from .sequence import MeshFrames, MeshSequence
from .skeleton import Skeleton, sanitize_name
from .skin import SkinWeights

__all__ = ["Animation", "Articulation", "GaussianCloud", "GaussianSequence", "Joint", "Link", "Mesh", "MeshFrames", "MeshSequence",
           "PartLabels", "Rig", "Skeleton", "SkinWeights", "sanitize_name"]
