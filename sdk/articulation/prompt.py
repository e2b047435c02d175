"""Motion prompts -> motion type and direction hints.

``parse_prompt("pull out the drawer")`` -> MotionHint(type="prismatic", direction="outward", part_word="drawer").
Verbs decide the type when they can ("open the door" is a hinge, "pull out" a slide); otherwise the part noun
decides ("the lid" alone is ambiguous: a hinged lid or a lifted cap; "lift the lid" is upward, type left to
the physics). A prompt with no motion word at all gives ``type=None`` and ``fallback=True``, and a warning
is logged by the caller that uses it (articulate_part): the physics prior then decides alone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# phrase -> (type or None, direction hint or None); longest phrases are matched first
_VERBS = {
    "pull out": ("prismatic", "outward"), "pull open": ("prismatic", "outward"), "slide out": ("prismatic", "outward"),
    "slide open": ("prismatic", "outward"), "take out": ("prismatic", "outward"), "draw out": ("prismatic", "outward"),
    "push in": ("prismatic", "inward"), "slide in": ("prismatic", "inward"), "slide": ("prismatic", None),
    "pull": (None, "outward"), "push": (None, "inward"), "press": ("prismatic", "inward"), "push down": ("prismatic", "down"),
    "depress": ("prismatic", "inward"), "click": ("prismatic", "inward"),
    "lift": (None, "up"), "raise": (None, "up"), "lower": (None, "down"), "drop": (None, "down"),
    "open": (None, "outward"), "close": (None, "inward"), "shut": (None, "inward"),
    "turn": ("revolute", None), "rotate": ("revolute", None), "twist": ("revolute", None), "spin": ("revolute", None),
    "swing": ("revolute", "outward"), "flip": ("revolute", "up"), "fold": ("revolute", None), "unfold": ("revolute", None),
    "tilt": ("revolute", None), "pivot": ("revolute", None), "hinge": ("revolute", None), "screw": ("revolute", None),
    "unscrew": ("revolute", None), "roll": ("revolute", None), "crank": ("revolute", None), "flick": ("revolute", None),
    "extend": ("prismatic", "outward"), "retract": ("prismatic", "inward"), "move": (None, None),
    "rotation": ("revolute", None), "translation": ("prismatic", None),
}
# part noun -> (default type, default direction) used when the verb leaves the type open
_NOUNS = {
    "door": ("revolute", "outward"), "lid": (None, "up"), "cover": (None, "up"), "flap": ("revolute", "outward"),
    "screen": ("revolute", "up"), "display": ("revolute", None), "drawer": ("prismatic", "outward"),
    "tray": (None, None), "button": ("prismatic", "inward"), "key": ("prismatic", "inward"), "knob": ("revolute", None),
    "dial": ("revolute", None), "wheel": ("revolute", None), "caster": ("revolute", None), "handle": (None, None),
    "lever": ("revolute", None), "switch": (None, None), "faucet": ("revolute", None), "tap": ("revolute", None),
    "window": ("prismatic", "up"), "seat": (None, None), "slider": ("prismatic", None), "plunger": ("prismatic", "inward"),
    "cap": (None, "up"), "hatch": ("revolute", "outward"), "gate": ("revolute", "outward"), "shelf": ("prismatic", "outward"),
    "lock": ("revolute", None), "latch": ("revolute", None), "trigger": ("prismatic", "inward"), "pedal": ("revolute", "down"),
    "arm": ("revolute", None), "leg": ("revolute", None), "head": ("revolute", None), "blade": ("revolute", None),
    "propeller": ("revolute", None), "scissors": ("revolute", None), "shears": ("revolute", None),
    "pliers": ("revolute", None), "tongs": ("revolute", None), "fan": ("revolute", None), "crank": ("revolute", None), "turntable": ("revolute", None),
}

KNOWN_NOUNS = frozenset(_NOUNS)
_NO_NOUN_DIRECTION = frozenset({"fold", "unfold", "tilt", "pivot", "hinge"})


@dataclass
class MotionHint:
    type: str | None  # "revolute" | "prismatic" | None (undecided)
    direction: str | None  # "outward" | "inward" | "up" | "down" | None
    part_word: str | None  # the part noun found in the prompt
    verb: str | None
    fallback: bool  # True when the prompt had no motion word at all
    text: str = ""

    @property
    def has_motion(self) -> bool:
        return not self.fallback


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z]+", " ", text.lower().replace("_", " ")).strip() + " "


def parse_prompt(prompt: str | None) -> MotionHint:
    """Parse a motion prompt. ``None``/empty -> fallback hint (no type, no direction)."""
    if not prompt or not prompt.strip():
        return MotionHint(None, None, None, None, True, prompt or "")
    t = _words(prompt)
    found = []  # (-n words, position, phrase): the longest phrase wins, then the earliest
    for phrase in _VERBS:
        m = re.search(rf" {phrase}(s|es|ed|d|ing)? ", t)
        if m:
            found.append((-len(phrase.split()), m.start(), phrase))
    verb, vt, vd = None, None, None
    if found:
        verb = min(found)[2]
        vt, vd = _VERBS[verb]
    noun, nt, nd = None, None, None
    for w in t.split():
        w1 = w[:-1] if w.endswith("s") and w[:-1] in _NOUNS else w
        if w1 in _NOUNS:
            noun, (nt, nd) = w1, _NOUNS[w1]
    if verb is None:
        return MotionHint(None, None, noun, None, True, prompt)
    typ = vt if vt is not None else nt
    if verb == "open" and noun in ("lid", "cover", "cap"):  # "open the lid": a hinged lid
        typ = "revolute"
    # verbs that fold or tilt either way do not take the noun's usual direction ("fold the screen" closes it)
    direction = vd if vd is not None else (None if verb in _NO_NOUN_DIRECTION else nd)
    for w, d in (("up", "up"), ("upward", "up"), ("upwards", "up"), ("down", "down"), ("downward", "down"),
                 ("outward", "outward"), ("outwards", "outward"), ("inward", "inward"), ("inwards", "inward")):
        if f" {w} " in t and not (w in ("up", "down") and f" {verb} " == f" {w} "):
            direction = d
    if verb in ("press", "push", "depress", "click") and noun in ("lid", "cover", "handle", "lever", "pedal"):
        direction = "down"  # pressed from above
    return MotionHint(typ, direction, noun, verb, False, prompt)


def prompt_from_label(label: str) -> str:
    """A natural prompt from a dataset part label (PartNet-Mobility semantics, body names).

    rotation_door -> "open the door"; drawer -> "pull out the drawer"; button -> "press the button";
    knob -> "turn the knob"; lid -> "lift the lid"; anything else -> "move the <label>".
    """
    words = label.lower().replace("-", "_").split("_")
    rot = "rotation" in words
    words = [w for w in words if w not in ("rotation", "translation", "link", "joint") and not w.isdigit()]
    noun = None
    for w in words:
        w1 = re.sub(r"\d+$", "", w)
        if w1 in _NOUNS:
            noun = w1
        else:  # compounds such as "laptoplid", "doorhandle": the longest known noun the word ends with
            ends = [n for n in _NOUNS if w1.endswith(n) and len(w1) > len(n)]
            if ends:
                noun = max(ends, key=len)
    if noun is None:
        return f"{'rotate' if rot else 'move'} the {' '.join(words) or 'part'}"
    if rot and noun not in ("door", "lid", "cover", "screen", "flap", "hatch", "gate"):
        return f"rotate the {noun}"
    verb = {"door": "open", "drawer": "pull out", "button": "press", "key": "press", "knob": "turn", "dial": "turn",
            "lid": "open" if rot else "lift", "cover": "lift", "wheel": "spin", "caster": "spin", "lever": "pull",
            "slider": "slide", "window": "slide", "screen": "open", "handle": "press", "faucet": "turn", "tray": "rotate" if rot else "pull out",
            "lock": "turn", "seat": "rotate" if rot else "lift", "cap": "unscrew"}.get(noun, "rotate" if rot else "move")
    return f"{verb} the {noun}"
