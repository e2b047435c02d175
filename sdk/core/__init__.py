"""Core data model: Mesh, PartLabels, Skeleton, SkinWeights, Animation, Rig, Articulation."""
from .animation import Animation
from .articulation import Articulation, Joint, Link
from .mesh import Mesh, PartLabels
from .rig import Rig
from .skeleton import Skeleton, sanitize_name
from .skin import SkinWeights

__all__ = ["Animation", "Articulation", "Joint", "Link", "Mesh", "PartLabels", "Rig", "Skeleton", "SkinWeights", "sanitize_name"]
