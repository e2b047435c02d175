import logging

import pytest

from sdk.articulation.prompt import parse_prompt, prompt_from_label


@pytest.mark.parametrize("text,typ,direction", [
    ("open the door", "revolute", "outward"),
    ("pull out the drawer", "prismatic", "outward"),
    ("lift the lid", None, "up"),
    ("open the lid", "revolute", "outward"),
    ("turn the knob", "revolute", None),
    ("press the button", "prismatic", "inward"),
    ("Slide the window up", "prismatic", "up"),
    ("spin the wheel", "revolute", None),
])
def test_parse(text, typ, direction):
    h = parse_prompt(text)
    assert not h.fallback and h.type == typ and h.direction == direction


def test_no_motion_words_is_fallback():
    for t in ("the red thing", "", None, "door"):
        h = parse_prompt(t)
        assert h.fallback and h.type is None


def test_labels_to_prompts():
    assert prompt_from_label("rotation_door") == "open the door"
    assert prompt_from_label("drawer") == "pull out the drawer"
    assert prompt_from_label("button") == "press the button"
    assert prompt_from_label("rotation_slider") == "rotate the slider"
    assert parse_prompt(prompt_from_label("laptoplid_link")).part_word == "lid"


def test_prompt_without_motion_words_warns(cabinet):
    from sdk.articulation.articulate import articulate_part
    from sdk.errors import ArticulationWarning
    with pytest.warns(ArticulationWarning, match="no motion words"):
        j = articulate_part(cabinet, "drawer", "the wooden thing")
    assert any("no motion words" in w for w in j.extra["warnings"])
    assert j.type == "prismatic"  # the physics prior still decides
