"""AreaResizer equals cv2.resize INTER_AREA bit for bit: random images, Atari frames, fallbacks."""

import pickle

import ale_py
import cv2
import gymnasium as gym
import numpy as np
import pytest
from conftest import FakeImageEnv
from hypothesis import given, settings
from hypothesis import strategies as st

from gymkit.wrappers import ResizeObservation, area_resize
from gymkit.wrappers.area_resize import AreaResizer, area_table

gym.register_envs(ale_py)

needs_kernel = pytest.mark.skipif(area_resize._area is None, reason="kernel not compiled")


def opencv(image, size):
    h, w = size
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA).reshape((h, w, *image.shape[2:]))


def images(shape, rng, n=6):
    """Random, posterised, extreme and striped images: rounding ties come up in all of them."""
    out = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]
    out += [(rng.integers(0, 4, shape) * 85).astype(np.uint8) for _ in range(n)]
    out += [np.full(shape, v, np.uint8) for v in (0, 1, 128, 254, 255)]
    stripes = np.zeros(shape, np.uint8)
    stripes[::2] = 255
    out += [stripes, np.ascontiguousarray(np.swapaxes(stripes, 0, 1)[: shape[0], : shape[1]])]
    return [np.ascontiguousarray(np.broadcast_to(x, shape)) for x in out if x.shape == shape]


SHAPES = [
    ((210, 160), (84, 84)),  # Atari
    ((210, 160, 3), (84, 84)),
    ((210, 160, 1), (84, 84)),
    ((250, 160), (84, 84)),  # SB3's crop-free Atari sizes, odd ratios
    ((210, 160), (110, 84)),
    ((210, 160), (64, 64)),
    ((100, 100), (33, 47)),
    ((64, 64, 3), (7, 9)),
    ((37, 300, 4), (36, 17)),  # one axis barely shrinks
    ((17, 19), (2, 3)),
    ((480, 640, 3), (210, 160)),
]


@needs_kernel
@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
@pytest.mark.parametrize("src, size", SHAPES)
def test_equals_opencv_on_random_and_extreme_images(src, size, portable):
    resize = AreaResizer(src, size)
    assert resize.backend == "gymkit", resize.reason
    resize.portable = portable
    for image in images(src, np.random.default_rng(hash((src, size)) % 2**32)):
        assert np.array_equal(resize(image), opencv(image, size))


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(2, 240),
    w=st.integers(2, 240),
    c=st.sampled_from([None, 1, 2, 3, 4]),
    fh=st.floats(0.02, 1.0),
    fw=st.floats(0.02, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_shrink_equals_opencv(h, w, c, fh, fw, seed):
    src = (h, w) if c is None else (h, w, c)
    size = (max(1, int(h * fh)), max(1, int(w * fw)))
    resize = AreaResizer(src, size)
    image = np.random.default_rng(seed).integers(0, 256, src, dtype=np.uint8)
    assert np.array_equal(resize(image), opencv(image, size))
    if resize.backend == "gymkit":
        resize.portable = True
        assert np.array_equal(resize(image), opencv(image, size))


@pytest.mark.slow
@needs_kernel
@pytest.mark.parametrize("game", ["Breakout", "Pong", "SpaceInvaders", "Seaquest", "MsPacman"])
def test_every_frame_of_atari_episodes(game):
    """Every raw frame (gray and RGB) of random-play episodes, 12,000 frames per game."""
    env = gym.make(f"ALE/{game}-v5", frameskip=1, repeat_action_probability=0.0)
    ale = env.unwrapped.ale
    gray, rgb = AreaResizer((210, 160), (84, 84)), AreaResizer((210, 160, 3), (84, 84))
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    episodes = frames = 0
    while frames < 12_000:
        action = rng.integers(env.action_space.n)
        for _ in range(4):
            _, _, terminated, truncated, _ = env.step(action)
            frames += 1
            screen = ale.getScreenGrayscale()
            assert np.array_equal(gray(screen), opencv(screen, (84, 84))), (game, frames)
            screen = ale.getScreenRGB()
            assert np.array_equal(rgb(screen), opencv(screen, (84, 84))), (game, frames)
            if terminated or truncated:
                episodes += 1
                env.reset()
                break
    env.close()
    assert frames >= 12_000


def test_table_follows_opencv_order():
    # 5 -> 2: each output covers 2.5 source pixels, the middle one split in halves.
    table = [(d, s, round(float(w), 6)) for d, s, w in area_table(5, 2)]
    assert table == [(0, 0, 0.4), (0, 1, 0.4), (0, 2, 0.2), (1, 2, 0.2), (1, 3, 0.4), (1, 4, 0.4)]


@pytest.mark.parametrize(
    "src, size, reason",
    [
        ((210, 160), (105, 80), "integer factors"),
        ((84, 84), (84, 84), "integer factors"),
        ((84, 84), (168, 84), "enlarging"),
        ((84, 84), (42, 100), "enlarging"),
    ],
)
def test_where_opencv_takes_another_road_opencv_runs(src, size, reason):
    resize = AreaResizer(src, size)
    assert resize.backend == "opencv" and reason in resize.reason
    assert reason in repr(resize)
    image = np.random.default_rng(0).integers(0, 256, src, dtype=np.uint8)
    assert np.array_equal(resize(image), opencv(image, size))


def test_without_the_kernel_opencv_runs(monkeypatch):
    monkeypatch.setattr(area_resize, "_area", None)
    resize = AreaResizer((210, 160), (84, 84))
    assert resize.backend == "opencv" and "not installed" in resize.reason
    image = np.random.default_rng(0).integers(0, 256, (210, 160), dtype=np.uint8)
    out = np.empty((84, 84), np.uint8)
    assert resize(image, out) is out
    assert np.array_equal(out, opencv(image, (84, 84)))


@needs_kernel
def test_a_failed_self_check_falls_back_to_opencv(monkeypatch):
    """Were OpenCV's arithmetic ever to change, the resizer notices and steps aside."""
    true_table = area_table

    def off_by_one_ulp(src, dst):
        table = true_table(src, dst)
        d, s, w = table[0]
        table[0] = (d, s, np.nextafter(w, np.float32(1)))
        return table

    monkeypatch.setattr(area_resize, "area_table", off_by_one_ulp)
    monkeypatch.setattr(area_resize, "_checked", {})
    resize = AreaResizer((210, 160), (84, 84))
    assert resize.backend == "opencv" and "differs" in resize.reason


@needs_kernel
def test_out_argument_views_and_bad_input():
    resize = AreaResizer((210, 160), (84, 84))
    rng = np.random.default_rng(0)
    wide = rng.integers(0, 256, (210, 320), dtype=np.uint8)
    view = wide[:, ::2]  # not contiguous
    out = np.zeros((84, 84), np.uint8)
    assert resize(view, out) is out
    assert np.array_equal(out, opencv(np.ascontiguousarray(view), (84, 84)))
    with pytest.raises(
        ValueError, match=r"`image` must be uint8 of shape \(210, 160\), got uint8 \(160"
    ):
        resize(np.zeros((160, 210), np.uint8))
    with pytest.raises(ValueError, match="`image` must be uint8 .* got float32"):
        resize(view.astype(np.float32))
    with pytest.raises(ValueError, match=r"`out` must be uint8 of shape \(84, 84\)"):
        resize(view, np.zeros(84 * 84, np.uint8))
    strided = np.zeros((84, 168), np.uint8)[:, ::2]  # a view as `out` is filled too
    assert resize(view, strided) is strided and np.array_equal(strided, out)


def atari_tables():
    """The arguments of `_area.Plan` for 210x160 -> 84x84 gray, as a dict."""
    xstart, xweight = area_resize._taps(160, 84)
    ystart, yweight = area_resize._taps(210, 84)
    return {
        "src_rows": 210,
        "src_cols": 160,
        "xstart": xstart,
        "xweight": xweight,
        "ystart": ystart,
        "yweight": yweight,
        "xstep": 1,
    }


BAD_PLANS = [  # (argument, wrong value, error, message): the checks a plan makes once
    ("xstart", lambda t: t["xstart"].astype(np.float32), TypeError, "`xstart` must hold int32"),
    ("xstart", lambda t: t["xstart"] + 200, ValueError, "`xstart` out of range"),
    ("xweight", lambda t: t["xweight"][:80], ValueError, "`xweight` has 960 bytes"),
    ("ystart", lambda t: t["ystart"] - 1, ValueError, "`ystart` out of range"),
    ("yweight", lambda t: np.zeros((84, 211), np.float32), ValueError, "more taps than source"),
    ("xstep", lambda t: 2**63 - 1, ValueError, "`xstep` out of range"),  # (kx - 1) * step overflows
    ("src_rows", lambda t: 2**40, ValueError, r"image side over 2\*\*24"),
    ("src_cols", lambda t: 0, ValueError, "empty image or table"),
]


@needs_kernel
@pytest.mark.parametrize("name, wrong, error, message", BAD_PLANS)
def test_a_plan_refuses_wrong_tables(name, wrong, error, message):
    """The kernel checks its tables itself: no plan can read or write out of bounds."""
    tables = atari_tables()
    area_resize._area.Plan(**tables)  # the right tables work
    tables[name] = wrong(tables)
    with pytest.raises(error, match=message):
        area_resize._area.Plan(**tables)


BAD_CALLS = [  # (argument index, wrong value, error, message): the checks of every call
    (0, np.zeros((210, 160), np.float32), TypeError, "`src` must hold uint8"),
    (0, np.zeros((210, 159), np.uint8), ValueError, "`src` has 33390 bytes, expected 33600"),
    (1, np.zeros((84, 83), np.uint8), ValueError, "`dst` has 6972 bytes, expected 7056"),
    (1, bytes(84 * 84), BufferError, "not writable"),
]


@needs_kernel
@pytest.mark.parametrize("index, wrong, error, message", BAD_CALLS)
def test_a_plan_refuses_a_wrong_call(index, wrong, error, message):
    plan = area_resize._area.Plan(**atari_tables())
    args = [np.zeros((210, 160), np.uint8), np.zeros((84, 84), np.uint8)]
    plan.resize(*args)  # the right call works
    args[index] = wrong
    with pytest.raises(error, match=message):
        plan.resize(*args)
    with pytest.raises(TypeError, match="2 or 3 arguments"):
        plan.resize(args[0])


@needs_kernel
def test_a_plan_owns_its_tables():
    """Tables changed after the plan was made (or living in the output) change nothing."""
    tables = atari_tables()
    plan = area_resize._area.Plan(**tables)
    tables["ystart"][:] = 10**6
    tables["xweight"][:] = np.nan
    image = np.random.default_rng(0).integers(0, 256, (210, 160), dtype=np.uint8)
    out = np.zeros((84, 84), np.uint8)
    plan.resize(image, out)
    assert np.array_equal(out, opencv(image, (84, 84)))


@needs_kernel
def test_opencv_switches_are_part_of_the_verdict(monkeypatch):
    """OpenCV's inexact IPP mode changes its arithmetic: the resizer checks again."""
    monkeypatch.setattr(area_resize, "_checked", {})
    assert AreaResizer((210, 160), (84, 84)).backend == "gymkit"
    cv2.ipp.setUseIPP_NotExact(True)
    try:
        inexact = AreaResizer((210, 160), (84, 84))
        image = np.random.default_rng(0).integers(0, 256, (210, 160), dtype=np.uint8)
        assert np.array_equal(inexact(image), opencv(image, (84, 84)))
    finally:
        cv2.ipp.setUseIPP_NotExact(False)
    assert len(area_resize._checked) == 2
    assert AreaResizer((210, 160), (84, 84)).backend == "gymkit"


def test_pickling_keeps_only_the_shapes(monkeypatch):
    resize = AreaResizer((210, 160, 3), (84, 84))
    data = pickle.dumps(resize)
    assert len(data) < 1000  # no scratch buffer, no tables
    monkeypatch.setattr(area_resize, "_area", None)  # lands where no kernel is compiled
    landed = pickle.loads(data)
    assert landed.backend == "opencv" and landed.shape == (84, 84, 3)


@pytest.mark.parametrize(
    "src, size, message",
    [
        ((210,), (84, 84), "`src_shape` must be"),
        ((210, 0), (84, 84), "`src_shape` must be"),
        ((210, 160), (0, 84), "`size` must be"),
        ((210, 160), (84,), "`size` must be"),
    ],
)
def test_bad_shapes_raise(src, size, message):
    with pytest.raises(ValueError, match=f"AreaResizer: {message}"):
        AreaResizer(src, size)


def test_more_than_four_channels_go_to_opencv():
    assert "more than 4 channels" in AreaResizer((210, 160, 5), (84, 84)).reason


def test_resize_observation_runs_on_it_and_pickles():
    env = ResizeObservation(FakeImageEnv((210, 160, 3)), 84)
    expected = "gymkit" if area_resize._area is not None else "opencv"
    assert env.resizer.backend == expected
    obs, _ = env.reset(seed=3)
    assert np.array_equal(obs, opencv(env.unwrapped.frame, (84, 84)))
    clone = pickle.loads(pickle.dumps(env))
    obs2, _ = clone.reset(seed=3)
    assert np.array_equal(obs, obs2) and clone.resizer.backend == expected
    assert ResizeObservation(FakeImageEnv((210, 160)), 84, interpolation="linear").resizer is None


@pytest.mark.parametrize(
    "stale",
    [
        object(),
        type("Old", (), {"Plan": lambda *a: (_ for _ in ()).throw(TypeError("takes 5 arguments"))}),
    ],
)
def test_a_stale_compiled_kernel_falls_back_to_opencv_with_a_warning(monkeypatch, stale):
    import gymkit.wrappers.area_resize as module

    monkeypatch.setattr(module, "_area", stale)
    with pytest.warns(RuntimeWarning, match="does not match this gymkit.*pip install -e"):
        resizer = module.AreaResizer((210, 160), (84, 84))
    assert resizer.backend == "opencv"
    image = np.random.default_rng(0).integers(0, 256, (210, 160), dtype=np.uint8)
    assert np.array_equal(resizer(image), cv2.resize(image, (84, 84), interpolation=cv2.INTER_AREA))
