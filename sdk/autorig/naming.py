"""Bone naming profiles and bone-axis conventions: ue5 | mixamo | unity | generic.

Canonical names are the UE5 mannequin's (``sdk.autorig.templates``). A profile maps each canonical name to
the engine's name; joints a profile has no name for (tails, chain bones) keep their canonical name with the
profile's style. Unity additionally gets a HumanBodyBones -> bone name map (``humanoid_map``), written next
to the rig as JSON so the Avatar can be configured without guessing.

Bone axes (``bone_axis``): UE5 mannequin bones point +X along the bone (to the child); Mixamo and Unity
rigs exported from Blender point +Y along the bone; ``generic`` keeps world-aligned joints (identity
rotations). The root joint always has zero rotation.
"""
from __future__ import annotations

from ..errors import InvalidInputError

PROFILES = ("ue5", "mixamo", "unity", "generic")

_MIXAMO = {
    "pelvis": "Hips", "spine_01": "Spine", "spine_02": "Spine1", "spine_03": "Spine2", "neck_01": "Neck",
    "head": "Head", "clavicle_l": "LeftShoulder", "upperarm_l": "LeftArm", "lowerarm_l": "LeftForeArm",
    "hand_l": "LeftHand", "clavicle_r": "RightShoulder", "upperarm_r": "RightArm", "lowerarm_r": "RightForeArm",
    "hand_r": "RightHand", "thigh_l": "LeftUpLeg", "calf_l": "LeftLeg", "foot_l": "LeftFoot", "ball_l": "LeftToeBase",
    "thigh_r": "RightUpLeg", "calf_r": "RightLeg", "foot_r": "RightFoot", "ball_r": "RightToeBase",
}
# Unity HumanBodyBones enum names (UnityEngine.HumanBodyBones)
_UNITY = {
    "pelvis": "Hips", "spine_01": "Spine", "spine_02": "Chest", "spine_03": "UpperChest", "neck_01": "Neck",
    "head": "Head", "clavicle_l": "LeftShoulder", "upperarm_l": "LeftUpperArm", "lowerarm_l": "LeftLowerArm",
    "hand_l": "LeftHand", "clavicle_r": "RightShoulder", "upperarm_r": "RightUpperArm", "lowerarm_r": "RightLowerArm",
    "hand_r": "RightHand", "thigh_l": "LeftUpperLeg", "calf_l": "LeftLowerLeg", "foot_l": "LeftFoot", "ball_l": "LeftToes",
    "thigh_r": "RightUpperLeg", "calf_r": "RightLowerLeg", "foot_r": "RightFoot", "ball_r": "RightToes",
}
# quadruped front legs reuse the arm names; UE5 has no quadruped standard, the same style is kept

BONE_AXIS = {"ue5": "x", "mixamo": "y", "unity": "y", "generic": None}
MIXAMO_PREFIX = "mixamorig:"


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise InvalidInputError(f"unknown naming profile {profile!r} (use one of {', '.join(PROFILES)})", field="naming")
    return profile


def profile_name(canonical: str, profile: str) -> str:
    """Engine name of a canonical joint."""
    check_profile(profile)
    if profile in ("ue5", "generic"):
        return canonical
    table = _MIXAMO if profile == "mixamo" else _UNITY
    if canonical in table:
        n = table[canonical]
    else:  # tail_01 -> Tail01, bone_03 -> Bone03
        n = "".join(w.capitalize() for w in canonical.split("_"))
    return MIXAMO_PREFIX + n if profile == "mixamo" else n


def canonical_of(name: str) -> str | None:
    """Canonical (UE5) name of a joint named in any profile, or None when it is not a known name."""
    from .templates import BIPED, QUADRUPED
    known = {n for n, _ in BIPED} | {n for n, _ in QUADRUPED}
    base = name.split(":")[-1]
    if base in known:
        return base
    for table in (_MIXAMO, _UNITY):
        for c, n in table.items():
            if n == base:
                return c
    low = base.lower()
    if low in known:
        return low
    return None


def humanoid_map(names: list[str], canonical: list[str]) -> dict:
    """Unity HumanBodyBones -> bone name for every mapped joint."""
    return {_UNITY[c]: n for n, c in zip(names, canonical) if c in _UNITY}
