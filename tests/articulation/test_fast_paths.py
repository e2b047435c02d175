"""Issue 15 speed work: every fast path equals its reference on small cases."""
import numpy as np

from sdk.articulation.articulate import _face_data, articulate_part
from sdk.articulation.axis_search import _Field, _State, _move_batch, atop_search, obb_candidates
from sdk.articulation.physics_prior import Occupancy
from sdk.core import Mesh
from sdk.geometry.sampling import face_areas, sample_surface


def _box(lo, hi):
    import trimesh
    b = trimesh.creation.box(extents=np.subtract(hi, lo))
    b.apply_translation((np.asarray(lo) + np.asarray(hi)) / 2)
    return b.vertices.astype(np.float64), b.faces.astype(np.int64)


def test_field_lookup_equals_reference_inside_and_outside_the_grid():
    rng = np.random.default_rng(0)
    f = _Field(rng.uniform(-0.3, 0.3, (200, 3)), -0.5, 0.5, res=16)
    q = rng.uniform(-0.9, 0.9, (7, 50, 3))  # many queries fall outside the grid
    assert ((q < -0.5) | (q > 0.5)).any(-1).sum() > 50
    np.testing.assert_array_equal(f(q), f._reference(q))
    # float32 lookup: same distances up to float32 rounding of the query (a voxel-face query may read its neighbour)
    d32 = f.lookup32(q.astype(np.float32))
    assert d32.dtype == np.float32
    assert np.mean(np.isclose(d32, f._reference(q), atol=1e-5)) > 0.99


def test_occupancy_flat_lookup_equals_three_index_lookup():
    rng = np.random.default_rng(1)
    occ = Occupancy(rng.uniform(0, 1, (3000, 3)), np.zeros(3), np.ones(3), 12)
    p = rng.uniform(-0.3, 1.3, (40, 30, 3))
    i, ok = occ._index(p)
    ref_occ = occ.occ[i[..., 0], i[..., 1], i[..., 2]] & ok
    ref_core = occ.core[i[..., 0], i[..., 1], i[..., 2]] & ok
    ref_ok = ((np.floor((p - occ.lo) / occ.h) >= 0) & (np.floor((p - occ.lo) / occ.h) < occ.shape)).all(-1)
    np.testing.assert_array_equal(ok, ref_ok)
    np.testing.assert_array_equal(occ(p), ref_occ)
    np.testing.assert_array_equal(occ.in_core(p), ref_core)
    a, b = occ.lookup(p)
    np.testing.assert_array_equal(a, ref_occ)
    np.testing.assert_array_equal(b, ref_core)


def test_sampling_with_precomputed_areas_is_bit_identical():
    v, f = _box([0, 0, 0], [1, 2, 3])
    a = face_areas(v, f)
    s0 = sample_surface(v, f[3:], 500, np.random.default_rng(5))
    s1 = sample_surface(v, f[3:], 500, np.random.default_rng(5), area=a[3:])
    np.testing.assert_array_equal(s0, s1)
    # the per-mesh cache is keyed by content: an edited copy gets its own areas
    m = Mesh(v, f, "box")
    fd = _face_data(m)
    np.testing.assert_array_equal(fd.area, a)
    v2 = v.copy()
    v2[:, 0] *= 2
    assert not np.allclose(_face_data(Mesh(v2, f, "box2")).area, a)


def test_coarse_float32_ranking_matches_float64_reference():
    rng = np.random.default_rng(2)
    part = rng.uniform([0.1, -0.1, -0.1], [0.3, 0.1, 0.1], (200, 3))
    stat = rng.uniform(-0.4, 0.0, (300, 3))
    O, D, _ = obb_candidates(part)
    target = np.vstack([stat, _move_batch(part, "revolute", O[1:2], D[2:3], np.array([0.6]))[0]])
    region = (np.full(3, -0.85), np.full(3, 0.85))
    st = _State(target, stat, part, 0.01, _Field(part, *region), region)
    Ob, Db = np.repeat(O, 6, 0), np.tile(D, (7, 1))
    A = np.full(len(Ob), 0.6)
    c32, c64 = st.coarse_costs(part, "revolute", Ob, Db, A), st.coarse_costs_reference(part, "revolute", Ob, Db, A)
    np.testing.assert_allclose(c32, c64, rtol=1e-3, atol=1e-6)
    assert int(np.argmin(c32)) == int(np.argmin(c64))


def test_two_box_laptop_joint_unchanged_by_fast_paths():
    """End to end on a small prop: the search still finds the hinge (its axis along the hinge edge, x)."""
    vb, fb = _box([0, 0, 0], [1.0, 0.04, 0.7])  # base
    vs, fs = _box([0, 0.04, 0.66], [1.0, 0.7, 0.7])  # screen standing up at the back edge
    v = np.vstack([vb, vs])
    f = np.vstack([fb, fs + len(vb)])
    fmask = np.r_[np.zeros(len(fb), bool), np.ones(len(fs), bool)]
    j = articulate_part(Mesh(v, f, "laptop"), fmask, "fold the laptop screen")
    assert j.type == "revolute"
    assert abs(abs(j.axis[0]) - 1) < 1e-6
    res = atop_search(rng_pts := sample_surface(vs, fs, 300, np.random.default_rng(0)),
                      [np.vstack([sample_surface(vb, fb, 300, np.random.default_rng(1)), rng_pts + [0, 0, 0.2]])],
                      sample_surface(vb, fb, 300, np.random.default_rng(1)), types=("prismatic",))
    assert res.type == "prismatic" and abs(res.axis[2]) > 0.99


def test_voxel_morphology_equals_scipy():
    """The collision scene's dilation, erosion and hole filling (array shifts, one background labelling) equal
    scipy.ndimage's binary_dilation / binary_erosion / binary_fill_holes, thin and flat grids included."""
    from sdk.articulation import morphology as M
    rng = np.random.default_rng(3)
    for shape in [(24, 20, 22), (1, 5, 7), (2, 2, 2), (9, 1, 12)]:
        for p in (0.02, 0.3, 0.7):
            x = rng.random(shape) < p
            np.testing.assert_array_equal(M.dilate6(x), M.dilate6_reference(x))
            np.testing.assert_array_equal(M.erode6(x), M.erode6_reference(x))
            d = M.dilate6(x)
            np.testing.assert_array_equal(M.fill_holes6(d), M.fill_holes6_reference(d))
    shell = np.zeros((12, 12, 12), bool)
    shell[2:10, 2:10, 2:10] = True
    shell[3:9, 3:9, 3:9] = False  # a closed hollow box: its inside is a hole
    assert M.fill_holes6(shell)[5, 5, 5] and M.fill_holes6(shell).sum() == 8 ** 3


def test_exact_costs_with_bounded_queries_equal_unbounded():
    """The exact re-scoring bounds each free target point's KD query by its static distance (the term is
    min(d^2, static d^2)): the costs equal the unbounded reference, right and wrong candidates alike."""
    rng = np.random.default_rng(4)
    part = rng.uniform([0.1, -0.1, -0.1], [0.3, 0.1, 0.1], (200, 3))
    stat = rng.uniform(-0.4, 0.0, (300, 3))
    O, D, _ = obb_candidates(part)
    target = np.vstack([rng.uniform(-0.4, 0.0, (300, 3)),
                        _move_batch(part, "revolute", O[1:2], D[2:3], np.array([0.6]))[0]])
    region = (np.full(3, -0.85), np.full(3, 0.85))
    st = _State(target, stat, part, 0.01, _Field(part, *region), region)
    assert len(st.free_groups) > 1
    Ob, Db = np.repeat(O, 6, 0), np.tile(D, (7, 1))
    for typ in ("revolute", "prismatic"):
        A = rng.uniform(0.05, 1.0, len(Ob))
        np.testing.assert_allclose(st.costs(part, typ, Ob, Db, A), st.costs_reference(part, typ, Ob, Db, A),
                                   rtol=1e-12, atol=0)


def test_chunked_ray_march_equals_full_march():
    """free_side's rays, marched in chunks that drop rays once they hit or leave the grid, hit exactly where the
    full march does (a cabinet body with the door's samples; all six box directions)."""
    from sdk.articulation.physics_prior import PhysicsConfig, PhysicsScene
    vb, fb = _box([0, 0, 0], [1.0, 1.0, 0.6])
    vd, fd = _box([0.05, 0.05, 0.6], [0.95, 0.95, 0.64])
    rng = np.random.default_rng(5)
    body = sample_surface(vb, fb, 4000, rng)
    part = sample_surface(vd, fd, 384, rng)
    sc = PhysicsScene(part, body, PhysicsConfig(), np.array([0, 1.0, 0]))
    for d in sc.dirs:
        np.testing.assert_array_equal(sc._ray_hits(d), sc._ray_hits_reference(d))
    assert sc.ray_hits.min() < 0.05 < sc.ray_hits.max()  # the front is free, the body behind


def test_chunked_sweep_equals_full_sweep():
    """The collision sweep in chunks of steps, each hypothesis stopping at its first collision, gives the free
    travel of the full sweep, for every revolute and prismatic OBB candidate of a door on a cabinet."""
    from sdk.articulation.physics_prior import PhysicsConfig, PhysicsScene
    vb, fb = _box([0, 0, 0], [1.0, 1.0, 0.6])
    vd, fd = _box([0.05, 0.05, 0.6], [0.95, 0.95, 0.64])
    rng = np.random.default_rng(6)
    sc = PhysicsScene(sample_surface(vd, fd, 384, rng), sample_surface(vb, fb, 4000, rng), PhysicsConfig(),
                      np.array([0, 1.0, 0]))
    O = np.repeat(sc.origins, 6, 0)
    D = np.tile(sc.dirs, (7, 1))
    t = sc.sweep("revolute", O, D, np.pi, 24)
    np.testing.assert_array_equal(t, sc.sweep_reference("revolute", O, D, np.pi, 24))
    assert (t == 0).any() and (t > np.pi / 2).any()  # some candidates are blocked at once, the hinges swing
    mx = sc.prismatic_max(sc.dirs)
    np.testing.assert_array_equal(sc.sweep("prismatic", sc.origins[:6], sc.dirs, mx, 30),
                                  sc.sweep_reference("prismatic", sc.origins[:6], sc.dirs, mx, 30))


def test_exact_rescoring_always_sees_the_best_of_each_type():
    """The coarse ranking picks which candidates are re-scored exactly; the best candidate of every motion type is
    always among them, so the type is decided by exact costs (a button's short stroke puts every candidate within
    voxel noise of the others: table B's optifuser_7128 button flipped to revolute at 48 voxels without this)."""
    vb, fb = _box([0, 0, 0], [1.0, 0.04, 0.7])
    vs, fs = _box([0, 0.04, 0.66], [1.0, 0.7, 0.7])
    rng = np.random.default_rng(0)
    part = sample_surface(vs, fs, 300, rng)
    body = sample_surface(vb, fb, 300, np.random.default_rng(1))
    res = atop_search(part, [np.vstack([body, part + [0, 0, 0.2]])], body, refine_top=1)
    assert {res.ranking[0][1], res.ranking[1][1]} == {"revolute", "prismatic"}
    assert res.type == "prismatic"
