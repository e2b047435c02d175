"""Core data model (a leaf: numpy types and their invariants; imports only ``sdk.errors``)."""
from .animation import Animation
from .articulation import Articulation, Joint, Link
from .gaussians import GaussianCloud, GaussianSequence
from .look import Look, Material, Primitive, Texture, TextureRef
from .mesh import Mesh, PartLabels
from .rig import Rig
from .sequence import MeshFrames, MeshSequence
from .skeleton import Skeleton, sanitize_name
from .skin import SkinWeights

__all__ = ["Animation", "Articulation", "GaussianCloud", "GaussianSequence", "Joint", "Link", "Look", "Material", "Mesh", "MeshFrames", "MeshSequence",
           "PartLabels", "Primitive", "Rig", "Skeleton", "SkinWeights", "Texture", "TextureRef",
           "sanitize_name"]
