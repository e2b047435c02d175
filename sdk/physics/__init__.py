"""Physics-based motion tracking (AKD §4.5) on Newton (NVIDIA's Warp physics engine); imported lazily."""
from .model import PhysicsConfig

__all__ = ["PhysicsConfig"]
