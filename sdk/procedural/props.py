"""Procedural articulated props toward ATOP's ten categories, with their true joints.

Y is up and +Z is the front, as in :mod:`sdk.procedural.articulated`. Every part is made of 8-vertex boxes and
12-segment cylinders (very low poly on purpose: the weight-free joint pipeline must handle them). Categories::

    door, drawer (a chest of drawers), lid (a box with a hinged lid), laptop, knob (a stove panel), button
    (a panel of push buttons), faucet, scissors, microwave, refrigerator

plus the existing ``cabinet``. ``generate_prop(category, seed)`` returns an ``ArticulatedObject``;
``prop_prompts(obj)`` a motion prompt per movable part (what a user would type); ``to_core(obj)`` the rest
mesh as ``sdk.core.Mesh`` + ``PartLabels``.
"""
from __future__ import annotations

import numpy as np

from .articulated import ArticulatedObject, Part, Primitive, _Colorer, _scissors, _cabinet

PROP_CATEGORIES = ("door", "drawer", "lid", "laptop", "knob", "button", "faucet", "scissors", "microwave",
                   "refrigerator", "cabinet")


def _shell(W, H, D, t, col, y0=0.0, open_front=True):
    """A box body open at the front: back, two sides, bottom, top (W x H x D, walls t thick)."""
    c = col()
    prims = [Primitive("box", (W, H, t), (0, y0 + H / 2, -D / 2 + t / 2), color=c),
             Primitive("box", (t, H, D), (-W / 2 + t / 2, y0 + H / 2, 0), color=c),
             Primitive("box", (t, H, D), (W / 2 - t / 2, y0 + H / 2, 0), color=c),
             Primitive("box", (W, t, D), (0, y0 + t / 2, 0), color=c),
             Primitive("box", (W, t, D), (0, y0 + H - t / 2, 0), color=c)]
    if not open_front:
        prims.append(Primitive("box", (W, H, t), (0, y0 + H / 2, D / 2 - t / 2), color=c))
    return prims


def _hinged_panel(name, W, H, t, x0, y0, z, side, col, handle=True, limit=1.6):
    """A door panel spanning x in [x0, x0 + W], y in [y0, y0 + H], its back at z; hinged at the left (side=-1) or
    right (side=+1) edge about a vertical axis, opening outward; handle on the other edge."""
    hx = x0 if side < 0 else x0 + W
    axis = (0, -1, 0) if side < 0 else (0, 1, 0)  # positive angle swings the free edge to +z
    prims = [Primitive("box", (W, H, t), (x0 + W / 2, y0 + H / 2, z + t / 2), color=col())]
    if handle:
        gx = x0 + W - 0.12 * W if side < 0 else x0 + 0.12 * W
        prims.append(Primitive("box", (0.03, 0.25 * H, 0.04), (gx, y0 + H / 2, z + t + 0.02), color=col()))
    return Part(name, 0, "revolute", (hx, y0, z), axis, (0.0, limit), prims)


def _door(rng, col):
    W, H, t = rng.uniform(0.7, 1.0), rng.uniform(1.8, 2.2), 0.05
    post = 0.08
    c = col()
    parts = [Part("frame", -1, primitives=[
        Primitive("box", (post, H + post, 0.12), (-W / 2 - post / 2, (H + post) / 2, 0), color=c),
        Primitive("box", (post, H + post, 0.12), (W / 2 + post / 2, (H + post) / 2, 0), color=c),
        Primitive("box", (W + 2 * post, post, 0.12), (0, H + post / 2, 0), color=c),
        Primitive("box", (W + 2 * post + 0.4, 0.04, 0.8), (0, -0.02, 0), color=c)])]  # threshold / floor slab
    side = -1 if rng.random() < 0.5 else 1
    door = _hinged_panel("door", W, H - 0.01, t, -W / 2, 0.005, -t / 2, side, col)
    door.parent = 0
    parts.append(door)
    return parts


def _drawer(rng, col):
    W, H, D, t = rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.1), rng.uniform(0.4, 0.55), 0.03
    parts = [Part("body", -1, primitives=_shell(W, H, D, t, col))]
    n = int(rng.integers(2, 4))
    dh = (H - 2 * t) / n
    for i in range(n):
        yc = t + dh * (i + 0.5)
        parts.append(Part(f"drawer{i}", 0, "prismatic", (0, yc, D / 2), (0, 0, 1), (0.0, 0.8 * D),
                          [Primitive("box", (W - 2 * t - 0.01, dh - 0.01, D - t - 0.01), (0, yc, t / 2 + 0.005), color=col()),
                           Primitive("box", (0.3 * W, 0.12 * dh, 0.04), (0, yc, D / 2 + 0.02), color=col())]))
    return parts


def _lid(rng, col):
    W, H, D, t = rng.uniform(0.5, 0.9), rng.uniform(0.3, 0.5), rng.uniform(0.35, 0.6), 0.03
    c = col()
    body = [Primitive("box", (W, t, D), (0, t / 2, 0), color=c),
            Primitive("box", (W, H, t), (0, H / 2, -D / 2 + t / 2), color=c),
            Primitive("box", (W, H, t), (0, H / 2, D / 2 - t / 2), color=c),
            Primitive("box", (t, H, D), (-W / 2 + t / 2, H / 2, 0), color=c),
            Primitive("box", (t, H, D), (W / 2 - t / 2, H / 2, 0), color=c)]
    parts = [Part("box", -1, primitives=body)]
    parts.append(Part("lid", 0, "revolute", (0, H, -D / 2), (-1, 0, 0), (0.0, 1.9),
                      [Primitive("box", (W, t, D), (0, H + t / 2, 0), color=col()),
                       Primitive("box", (0.25 * W, 0.03, 0.04), (0, H + t / 2, D / 2 + 0.02), color=col())]))
    return parts


def _laptop(rng, col):
    W, D, tb = rng.uniform(0.6, 0.9), rng.uniform(0.4, 0.6), rng.uniform(0.02, 0.04)
    Hs, ts = D * rng.uniform(0.85, 1.0), rng.uniform(0.015, 0.04)
    parts = [Part("base", -1, primitives=[Primitive("box", (W, tb, D), (0, tb / 2, 0), color=col())])]
    z0 = -D / 2 + ts / 2
    # the screen stands on the back edge; positive angles fold it forward onto the keyboard
    parts.append(Part("screen", 0, "revolute", (0, tb, z0), (1, 0, 0), (-0.6, 1.5),
                      [Primitive("box", (W, Hs, ts), (0, tb + Hs / 2, z0), color=col())]))
    return parts


def _knob(rng, col):
    W, H, D = rng.uniform(0.6, 1.0), rng.uniform(0.15, 0.25), rng.uniform(0.1, 0.2)
    parts = [Part("panel", -1, primitives=[Primitive("box", (W, H, D), (0, H / 2, 0), color=col())])]
    n = int(rng.integers(2, 5))
    r, h = min(0.35 * H, W / (3 * n)), rng.uniform(0.03, 0.06)
    for i in range(n):
        x = -W / 2 + W * (i + 0.5) / n
        parts.append(Part(f"knob{i}", 0, "revolute", (x, H / 2, D / 2), (0, 0, 1), (-np.pi, np.pi),
                          [Primitive("cylinder", (r, h), (x, H / 2, D / 2 + h / 2), 2, col()),
                           Primitive("box", (0.3 * r, 0.9 * r, 0.01), (x, H / 2 + 0.4 * r, D / 2 + h + 0.005), color=col())]))
    return parts


def _button(rng, col):
    W, H, D = rng.uniform(0.4, 0.8), rng.uniform(0.2, 0.35), rng.uniform(0.1, 0.2)
    parts = [Part("panel", -1, primitives=[Primitive("box", (W, H, D), (0, H / 2, 0), color=col())])]
    n = int(rng.integers(2, 5))
    s, p = min(0.3 * H, 0.6 * W / n), rng.uniform(0.015, 0.03)
    for i in range(n):
        x = -W / 2 + W * (i + 0.5) / n
        parts.append(Part(f"button{i}", 0, "prismatic", (x, H / 2, D / 2), (0, 0, -1), (0.0, 0.7 * p),
                          [Primitive("box", (s, s, p), (x, H / 2, D / 2 + p / 2), color=col())]))
    return parts


def _faucet(rng, col):
    r, h = rng.uniform(0.04, 0.06), rng.uniform(0.25, 0.4)
    sl = rng.uniform(0.2, 0.3)
    c = col()
    parts = [Part("body", -1, primitives=[
        Primitive("box", (0.5, 0.04, 0.3), (0, 0.02, 0), color=col()),  # the sink deck
        Primitive("cylinder", (r, h), (0, 0.04 + h / 2, -0.05), 1, c),
        Primitive("box", (2 * r * 0.8, 2 * r * 0.8, sl), (0, 0.04 + h - r, -0.05 + sl / 2), color=c)])]
    y = 0.04 + h
    ll = rng.uniform(0.12, 0.2)
    parts.append(Part("handle", 0, "revolute", (0, y, -0.05), (0, 1, 0), (-1.2, 1.2),
                      [Primitive("cylinder", (r * 0.7, 0.04), (0, y + 0.02, -0.05), 1, col()),
                       Primitive("box", (0.025, 0.025, ll), (0, y + 0.05, -0.05 - ll / 2), color=col())]))
    return parts


def _microwave(rng, col):
    W, H, D, t = rng.uniform(0.45, 0.6), rng.uniform(0.28, 0.36), rng.uniform(0.32, 0.42), 0.02
    parts = [Part("body", -1, primitives=_shell(W, H, D, t, col) + [
        Primitive("box", (0.28 * W, H, t), (W / 2 - 0.14 * W, H / 2, D / 2 - t / 2), color=col())])]
    dw = 0.72 * W
    door = _hinged_panel("door", dw - 0.005, H - 0.01, t, -W / 2, 0.005, D / 2, -1, col)
    parts.append(door)
    bx = W / 2 - 0.14 * W
    parts.append(Part("button", 0, "prismatic", (bx, 0.3 * H, D / 2), (0, 0, -1), (0.0, 0.01),
                      [Primitive("box", (0.08 * W, 0.06 * H, 0.015), (bx, 0.3 * H, D / 2 + 0.0075), color=col())]))
    return parts


def _refrigerator(rng, col):
    W, H, D, t = rng.uniform(0.6, 0.8), rng.uniform(1.6, 1.9), rng.uniform(0.6, 0.7), 0.04
    parts = [Part("body", -1, primitives=_shell(W, H, D, t, col))]
    split = rng.uniform(0.3, 0.4) * H
    side = -1 if rng.random() < 0.5 else 1
    parts.append(_hinged_panel("freezer_door", W, H - split - 0.01, t, -W / 2, split + 0.005, D / 2, side, col))
    parts.append(_hinged_panel("fridge_door", W, split - 0.01, t, -W / 2, 0.005, D / 2, side, col))
    return parts


_PROPS = {"door": _door, "drawer": _drawer, "lid": _lid, "laptop": _laptop, "knob": _knob, "button": _button,
          "faucet": _faucet, "scissors": _scissors, "microwave": _microwave, "refrigerator": _refrigerator,
          "cabinet": _cabinet}


def generate_prop(category: str, seed: int = 0, uniform_color_prob: float = 0.3) -> ArticulatedObject:
    if category not in _PROPS:
        raise ValueError(f"unknown prop category {category!r}; choose one of {PROP_CATEGORIES}")
    rng = np.random.default_rng(seed)
    parts = _PROPS[category](rng, _Colorer(rng, uniform_color_prob))
    return ArticulatedObject(f"{category}_{seed}", category, parts)


_PROMPTS = {"door": "open the door", "drawer": "pull out the drawer", "lid": "open the lid", "screen":
            "fold the laptop screen", "knob": "turn the knob", "button": "press the button", "handle": "turn the "
            "faucet handle", "blade": "open the scissors", "freezer": "open the freezer door", "fridge": "open the "
            "fridge door"}


def prop_prompts(obj: ArticulatedObject) -> dict:
    """A natural motion prompt per movable part, from the part's name."""
    out = {}
    for p in obj.parts:
        if p.joint == "fixed":
            continue
        key = next((k for k in _PROMPTS if p.name.startswith(k)), None)
        out[p.name] = _PROMPTS[key] if key else f"move the {p.name}"
    return out


def to_core(obj: ArticulatedObject):
    """Rest mesh as (sdk.core.Mesh, sdk.core.PartLabels) with the part names."""
    from ..core import Mesh, PartLabels
    m = obj.mesh()
    mesh = Mesh(m.vertices, m.faces, obj.name)
    return mesh, PartLabels.from_face_labels(m.faces, m.face_part, len(m.vertices), [p.name for p in obj.parts])
