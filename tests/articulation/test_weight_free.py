"""The weight-free prior on very low-poly procedural props and on bad input: never a silent empty result."""
import warnings

import numpy as np
import pytest

from sdk.articulation.articulate import ArticulateConfig, articulate_object, articulate_part, infer_tree
from sdk.core import Mesh, PartLabels
from sdk.errors import ArticulationWarning, InvalidInputError
from sdk.procedural.props import PROP_CATEGORIES, generate_prop, prop_prompts, to_core

from .conftest import angle_deg, line_distance


class _Asset:
    def __init__(self, mesh, parts, path=None):
        self.mesh, self.parts, self.path = mesh, parts, path


def _boxes(spec: dict):
    """{name: (lo, hi)} -> (Mesh, PartLabels) of 8-vertex boxes."""
    from sdk.procedural.articulated import box_mesh
    vs, fs, lab, n = [], [], [], 0
    for i, (lo, hi) in enumerate(spec.values()):
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        v, f = box_mesh(hi - lo, (hi + lo) / 2)
        vs.append(v)
        fs.append(f + n)
        lab.append(np.full(len(v), i))
        n += len(v)
    return Mesh(np.concatenate(vs), np.concatenate(fs), "boxes"), PartLabels(np.concatenate(lab), list(spec))


def _laptop(screen_thickness=0.04, base_thickness=0.02):
    tb, ts = base_thickness, screen_thickness
    return _boxes({"base": ((-0.5, 0, -0.35), (0.5, tb, 0.35)),
                   "screen": ((-0.5, tb, -0.35), (0.5, tb + 0.66, -0.35 + ts))})


@pytest.mark.parametrize("ts,tb", [(0.02, 0.03), (0.04, 0.02)])
def test_two_box_laptop_gets_a_hinge(ts, tb):
    """16 vertices in all; with the thicker screen the screen used to become the root: no joint, exit 0."""
    mesh, parts = _laptop(ts, tb)
    assert mesh.n_vertices == 16
    art = articulate_object(_Asset(mesh, parts), {"screen": "fold the laptop screen"}, only=["screen"], progress=False)
    js = [j for j in art.joints if j.child == "screen"]
    assert len(js) == 1 and js[0].type == "revolute" and js[0].parent == "base"
    j = js[0]
    assert angle_deg(j.axis, [1, 0, 0]) < 1.0
    # the hinge: the screen's bottom edge (OBB face centre), not an axis through the middle of the screen
    hinge = np.array([0.0, tb, -0.35 + ts / 2])
    assert line_distance(j.origin, j.axis, hinge, [1, 0, 0]) < 0.03
    assert max(abs(j.lower), abs(j.upper)) > np.deg2rad(60)


def _write_obj(path, mesh, parts):
    lines = []
    for v in mesh.vertices:
        lines.append(f"v {v[0]:.6f} {v[1]:.6f} {v[2]:.6f}")
    fl = parts.labels[mesh.faces[:, 0]]
    for i, nm in enumerate(parts.names):
        lines.append(f"g {nm}")
        for f in mesh.faces[fl == i]:
            lines.append(f"f {f[0] + 1} {f[1] + 1} {f[2] + 1}")
    path.write_text("\n".join(lines) + "\n")


def test_laptop_cli(tmp_path):
    from pxr import Usd, UsdPhysics
    from sdk.cli import main
    mesh, parts = _laptop(0.04, 0.02)
    src = tmp_path / "laptop.obj"
    _write_obj(src, mesh, parts)
    out = tmp_path / "laptop.usda"
    rc = main(["joints", str(src), "--part", "screen", "--prompt", "fold the laptop screen", "-o", str(out),
               "--no-preview"])
    assert rc in (0, None)
    stage = Usd.Stage.Open(str(out))
    rev = [p for p in stage.Traverse() if p.IsA(UsdPhysics.RevoluteJoint)]
    assert len(rev) == 1


def test_every_part_asked_warns_about_the_root():
    mesh, parts = _laptop(0.04, 0.02)
    with pytest.warns(ArticulationWarning, match="none is left as the fixed body"):
        art = articulate_object(_Asset(mesh, parts), {}, only=["screen", "base"], progress=False)
    # both parts get a joint, from a root link without geometry
    assert sorted(j.child for j in art.joints) == ["base", "screen"]
    assert {j.parent for j in art.joints} == {art.root_link} and art.link(art.root_link).mesh is None


def test_part_inside_the_body_gets_a_fixed_joint_with_reason():
    mesh, parts = _boxes({"body": ((-0.5, 0, -0.5), (0.5, 1, 0.5)), "core": ((-0.1, 0.4, -0.1), (0.1, 0.6, 0.1))})
    with pytest.warns(ArticulationWarning, match="inside the body"):
        j = articulate_part(mesh, "core", "pull out the core", parts=parts)
    assert j.type == "fixed" and "inside the body" in j.extra["fixed_reason"]


def test_overlapping_parts_warn():
    mesh, parts = _boxes({"body": ((-0.5, 0, -0.5), (0.5, 1, 0.5)), "slab": ((-0.3, 0.8, -0.3), (0.3, 1.2, 0.3))})
    with pytest.warns(ArticulationWarning, match="overlaps the body|inside the body|collides"):
        j = articulate_part(mesh, "slab", "lift the slab", parts=parts)
    assert j.extra["warnings"]


def test_handful_of_vertices_warns_and_still_estimates():
    mesh, parts = _boxes({"body": ((-0.5, 0, -0.5), (0.5, 1, 0.5))})
    # a single triangle flap on the front face
    v = np.vstack([mesh.vertices, [[-0.2, 0.5, 0.501], [0.2, 0.5, 0.501], [0.0, 0.8, 0.501]]])
    f = np.vstack([mesh.faces, [[8, 9, 10]]])
    lab = np.concatenate([parts.labels, [1, 1, 1]])
    m2, p2 = Mesh(v, f, "flap"), PartLabels(lab, ["body", "flap"])
    with pytest.warns(ArticulationWarning, match="only 3 vertices"):
        j = articulate_part(m2, "flap", "open the flap", parts=p2)
    assert j.type != "fixed" and j.extra["warnings"]


def test_degenerate_part_is_an_error():
    mesh, parts = _boxes({"body": ((-0.5, 0, -0.5), (0.5, 1, 0.5))})
    v = np.vstack([mesh.vertices, [[0, 0.5, 0.6], [0, 0.5, 0.6], [0, 0.5, 0.6]]])
    f = np.vstack([mesh.faces, [[8, 9, 10]]])
    m2, p2 = Mesh(v, f, "x"), PartLabels(np.concatenate([parts.labels, [1, 1, 1]]), ["body", "dot"])
    with pytest.raises(InvalidInputError, match="no surface area|part is empty"):
        articulate_part(m2, "dot", parts=p2)


def test_prompt_naming_another_part_warns():
    obj = generate_prop("microwave", 3)
    mesh, parts = to_core(obj)
    with pytest.warns(ArticulationWarning, match="names 'button'"):
        articulate_part(mesh, "door", "press the button", parts=parts)


def test_prompt_in_another_language_warns():
    obj = generate_prop("drawer", 2)
    mesh, parts = to_core(obj)
    with pytest.warns(ArticulationWarning, match="does not look like English"):
        j = articulate_part(mesh, "drawer0", "ziehe die Schublade heraus", parts=parts, config=ArticulateConfig(up_axis="y"))
    assert j.type == "prismatic"  # the physics prior still decides
    with pytest.warns(ArticulationWarning, match="does not look like English"):
        articulate_part(mesh, "drawer0", "拉开抽屉", parts=parts, config=ArticulateConfig(up_axis="y"))


def test_props_cover_atop_categories():
    assert {"door", "drawer", "lid", "laptop", "knob", "button", "faucet", "scissors", "microwave",
            "refrigerator"} <= set(PROP_CATEGORIES)
    for cat in PROP_CATEGORIES:
        obj = generate_prop(cat, 0)
        mesh, parts = to_core(obj)
        mesh.validate()
        assert any(p.joint != "fixed" for p in obj.parts)
        assert set(prop_prompts(obj)) == {p.name for p in obj.parts if p.joint != "fixed"}


@pytest.mark.parametrize("cat", ["door", "laptop", "knob", "button", "refrigerator"])
def test_low_poly_props_weight_free(cat):
    """Held-out seed; the true joint within 5 deg and the right type, every movable part gets a joint."""
    obj = generate_prop(cat, 1001)
    mesh, parts = to_core(obj)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArticulationWarning)
        art = articulate_object(_Asset(mesh, parts), prop_prompts(obj), progress=False,
                                config=ArticulateConfig(up_axis="y"))
    pred = {j.child: j for j in art.joints}
    for p in obj.parts:
        if p.joint == "fixed":
            continue
        j = pred[p.name]
        assert (j.type == "continuous" and p.joint == "revolute") or j.type == p.joint, (p.name, j.type)
        assert angle_deg(j.axis, p.axis) < 5.0, p.name


def test_tree_prefers_the_body_over_a_touching_neighbour():
    obj = generate_prop("refrigerator", 4)
    mesh, parts = to_core(obj)
    root, parent = infer_tree(mesh, parts)
    assert root == "body" and parent == {"freezer_door": "body", "fridge_door": "body"}


def _carcassless_cabinet():
    """Two doors meeting at a seam, handles near the seam, and a drawer with a front handle above them; no body
    (a cabinet exported without its carcass, like Isaac Gym's sektion_cabinet_2). x is the front, y up."""
    return _boxes({
        "door_l": ((0.0, 0.0, -0.5), (0.04, 0.8, 0.0)), "door_r": ((0.0, 0.0, 0.0), (0.04, 0.8, 0.5)),
        "handle_l": ((0.04, 0.3, -0.08), (0.08, 0.5, -0.05)), "handle_r": ((0.04, 0.3, 0.05), (0.08, 0.5, 0.08)),
        "drawer": ((-0.6, 0.8, -0.5), (0.04, 1.0, 0.5)), "pull": ((0.04, 0.89, -0.12), (0.07, 0.91, 0.12))})


def _merged(mesh, parts, groups: dict):
    """Relabel: {new part: [old parts]} (a door and its handle as one part)."""
    lab = parts.labels.copy()
    out = np.zeros_like(lab)
    for k, olds in enumerate(groups.values()):
        out[np.isin(lab, [parts.names.index(o) for o in olds])] = k
    return mesh, PartLabels(out, list(groups))


def test_no_body_object_hinges_doors_away_from_their_handles_and_pulls_drawers_to_the_front():
    """Without a body, every asked part moves against the others from a root link without geometry; the doors'
    seam is contact with a part that moves itself, not a hinge: the hinge goes on the edge away from the handle,
    and the drawer slides out of the side its handle is on (it used to slide sideways, and one part got no joint)."""
    mesh, parts = _merged(*_carcassless_cabinet(), {"door_l": ["door_l", "handle_l"], "door_r": ["door_r", "handle_r"],
                                                     "drawer": ["drawer", "pull"]})
    asked = ["door_l", "door_r", "drawer"]
    prompts = {"door_l": "open the door", "door_r": "open the door", "drawer": "pull out the drawer"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArticulationWarning)
        art = articulate_object(_Asset(mesh, parts), prompts, only=asked, progress=False,
                                config=ArticulateConfig(up_axis="y"))
    js = {j.child: j for j in art.joints}
    assert art.root_link not in parts.names and all(js[n].parent == art.root_link for n in asked)
    for n, z in (("door_l", -0.5), ("door_r", 0.5)):
        assert js[n].type in ("revolute", "continuous") and angle_deg(js[n].axis, [0, 1, 0]) < 2
        assert line_distance(js[n].origin, js[n].axis, [0.02, 0, z], [0, 1, 0]) < 0.06  # the outer edge
    assert js["drawer"].type == "prismatic" and angle_deg(js["drawer"].axis, [1, 0, 0]) < 2


def test_no_body_object_exports_with_its_geometry_free_root(tmp_path):
    """The root link without geometry exports: a validator-clean UsdPhysics stage and a URDF that reads back with
    every joint hanging from it."""
    from exporters.physics_usd import validate_physics_usd, write_physics_usd
    from exporters.urdf import write_urdf
    from sdk.io.urdf import load_urdf
    mesh, parts = _merged(*_carcassless_cabinet(), {"door_l": ["door_l", "handle_l"], "door_r": ["door_r", "handle_r"],
                                                     "drawer": ["drawer", "pull"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArticulationWarning)
        art = articulate_object(_Asset(mesh, parts), {"door_l": "open the door", "door_r": "open the door",
                                                      "drawer": "pull out the drawer"},
                                only=["door_l", "door_r", "drawer"], progress=False, config=ArticulateConfig(up_axis="y"))
    write_physics_usd(art, tmp_path / "c.usda", up_axis="Y")
    assert validate_physics_usd(tmp_path / "c.usda") == []
    write_urdf(art, tmp_path / "c.urdf")
    back = load_urdf(tmp_path / "c.urdf")
    assert {j.parent for j in back.articulation.joints} == {art.root_link}


def test_caster_wheels_hang_from_their_fork():
    """A twin-wheel caster under a chair base: the wheels (larger than the fork) touch only the fork, 3 cm below
    the base; the fork touches the base. The wheels used to hang from the base and the fork from a wheel (the
    caster then could not swivel: every motion collided)."""
    mesh, parts = _boxes({"base": ((-0.5, 0.0, -0.5), (0.5, 0.05, 0.5)),
                          "fork": ((-0.02, -0.07, -0.02), (0.02, 0.0, 0.02)),
                          "wheel_a": ((-0.045, -0.17, 0.02), (0.045, -0.03, 0.045)),
                          "wheel_b": ((-0.045, -0.17, -0.045), (0.045, -0.03, -0.02))})
    root, parent = infer_tree(mesh, parts, movable=["fork", "wheel_a", "wheel_b"])
    assert root == "base"
    assert parent == {"fork": "base", "wheel_a": "fork", "wheel_b": "fork"}


def test_wheel_spins_about_the_axis_it_is_round_about():
    """"Spin the wheel": a wheel held by a fork at its axle spins about the axis it maps onto itself about, not
    about its contact patch's normal or free side."""
    from sdk.procedural.articulated import box_mesh, cylinder_mesh
    wv, wf = cylinder_mesh(0.05, 0.02, (0.0, 0.0, 0.0), axis=2, segments=32)  # the wheel, axle along z
    bv, bf = box_mesh(np.array([0.02, 0.1, 0.03]), np.array([0.0, 0.1, 0.0]))  # an arm resting on the tread
    cv, cf = box_mesh(np.array([0.3, 0.03, 0.3]), np.array([0.0, 0.165, 0.0]))  # the body it hangs from
    v = np.concatenate([wv, bv, cv])
    f = np.concatenate([wf, bf + len(wv), cf + len(wv) + len(bv)])
    lab = np.concatenate([np.zeros(len(wv), int), np.ones(len(bv) + len(cv), int)])
    mesh, parts = Mesh(v, f, "wheel"), PartLabels(lab, ["wheel", "body"])
    j = articulate_part(mesh, "wheel", "spin the wheel", parts=parts, config=ArticulateConfig(up_axis="y"))
    assert j.type in ("revolute", "continuous")
    assert angle_deg(j.axis, [0, 0, 1]) < 2
    assert line_distance(j.origin, j.axis, [0, 0, 0], [0, 0, 1]) < 0.01


def test_lid_sunk_in_a_recess_is_lifted_and_a_part_floating_inside_stays_fixed():
    """A lid resting on a floor, walled in on four sides and under a roof (a drip-tray cover): it is closed in on
    every side yet has room to lift; it used to get a fixed joint ("inside the body"). A part floating inside a
    closed body (touching nothing) still gets the fixed joint with its reason."""
    spec = {"floor": ((-0.5, -0.1, -0.5), (0.5, 0.0, 0.5)), "lid": ((-0.3, 0.0, -0.3), (0.3, 0.02, 0.3)),
            "wall_a": ((-0.5, 0.0, -0.5), (-0.31, 0.1, 0.5)), "wall_b": ((0.31, 0.0, -0.5), (0.5, 0.1, 0.5)),
            "wall_c": ((-0.31, 0.0, -0.5), (0.31, 0.1, -0.31)), "wall_d": ((-0.31, 0.0, 0.31), (0.31, 0.1, 0.5)),
            "roof": ((-0.5, 0.5, -0.5), (0.5, 0.6, 0.5))}
    mesh, parts = _boxes(spec)
    lab = parts.labels.copy()
    lab[lab != 1] = 0  # everything but the lid is one body
    parts = PartLabels(lab, ["body", "lid"])
    with pytest.warns(ArticulationWarning, match="closed in on every side"):
        j = articulate_part(mesh, "lid", "lift the lid", parts=parts, config=ArticulateConfig(up_axis="y"))
    assert j.type == "prismatic" and angle_deg(j.axis, [0, 1, 0]) < 2


def test_axis_snaps_onto_the_frame_within_a_few_degrees_only():
    from sdk.articulation.articulate import snap_axis
    tilt = np.array([np.sin(np.deg2rad(3)), 0.0, np.cos(np.deg2rad(3))])
    assert np.allclose(snap_axis(tilt, 5.0), [0, 0, 1])
    assert np.allclose(snap_axis(-tilt, 5.0), [0, 0, -1])  # the sign is kept
    assert snap_axis(tilt, 2.0) is None and snap_axis(tilt, 0.0) is None
    # a rotated body keeps its own frame: an axis on the body's frame is not pulled onto the asset's
    rot = np.array([[np.cos(0.05), -np.sin(0.05), 0], [np.sin(0.05), np.cos(0.05), 0], [0, 0, 1]])
    frames = np.vstack([np.eye(3), rot])
    assert snap_axis(rot[0], 5.0, frames) is None
    assert np.allclose(snap_axis(rot[0] + [0, 0, 0.03], 5.0, frames), rot[0])


def test_tilted_caster_fork_swivels_about_the_vertical():
    """A caster fork whose own box is tilted by 3 deg (its OBB tilts with it) swivels about the vertical axis of
    the chair it hangs from, not about the tilted box axis."""
    from sdk.procedural.articulated import box_mesh
    th = np.deg2rad(3)
    R = np.array([[np.cos(th), 0, np.sin(th)], [0, 1, 0], [-np.sin(th), 0, np.cos(th)]])
    fv, ff = box_mesh(np.array([0.04, 0.05, 0.07]), np.zeros(3))
    fv = fv @ R.T + [0, 0, -0.035]  # the fork hangs below the base's underside (z = 0)
    bv, bf = box_mesh(np.array([1.0, 1.0, 0.05]), np.array([0, 0, 0.025]))
    mesh = Mesh(np.concatenate([fv, bv]), np.concatenate([ff, bf + len(fv)]), "caster")
    parts = PartLabels(np.concatenate([np.zeros(len(fv), int), np.ones(len(bv), int)]), ["caster", "base"])
    j = articulate_part(mesh, "caster", "spin the caster", parts=parts, config=ArticulateConfig(up_axis="z"))
    assert j.type in ("revolute", "continuous") and angle_deg(j.axis, [0, 0, 1]) < 0.5
    assert "axis_before_snap" in j.extra


def test_caster_wheel_without_prompt_spins_on_its_axle():
    """sapien_179 (PartNet-Mobility, tests only): without a prompt a caster's wheel spins about its axle. Its
    contact with the fork is off the axle, but spinning about the axis it is round about keeps it where it is, so
    the off-contact ("floating") penalty does not apply (the wheel used to slide off the fork)."""
    from sdk.io import load_asset
    from .conftest import need_shared
    asset = load_asset(need_shared("sapien_179") / "mobility.urdf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArticulationWarning)
        art = articulate_object(asset, {}, only=["link_0", "link_1"], progress=False)
    j = next(j for j in art.joints if j.child == "link_1")
    assert j.parent == "link_0" and j.type in ("revolute", "continuous")
    assert angle_deg(j.axis, asset.gt_joints["link_1"][-1].axis) < 1


def test_closed_scissors_open_about_the_rivet_axis():
    """Closed procedural scissors (two stacked blades touching along their whole length): the blade turns about
    the axis across both blades, not about its own length. The contact strip is flat against its length (its
    normal is the turning axis), and a slender blade turned about its own length is not 'round' (the symmetry
    test is informative only where a turn moves points beyond the match distance); both used to pick an axis
    in the blades' plane."""
    obj = generate_prop("scissors", 1001)
    mesh, parts = to_core(obj)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArticulationWarning)
        art = articulate_object(_Asset(mesh, parts), prop_prompts(obj), progress=False,
                                config=ArticulateConfig(up_axis="y"))
    j = next(j for j in art.joints if j.child == "blade_1")
    assert j.type in ("revolute", "continuous") and angle_deg(j.axis, [0, 0, 1]) < 2
