import cv2
import numpy as np
import pytest
from conftest import FakeImageEnv
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st

from gymkit.wrappers import ResizeObservation


@settings(max_examples=30, deadline=None)
@given(
    h=st.integers(1, 64),
    w=st.integers(1, 64),
    c=st.sampled_from([None, 1, 3, 4]),
    out=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    interpolation=st.sampled_from(["area", "linear", "nearest", "cubic"]),
)
def test_any_image_any_size_matches_cv2(h, w, c, out, interpolation):
    shape = (h, w) if c is None else (h, w, c)
    env = ResizeObservation(FakeImageEnv(shape), out, interpolation=interpolation)
    assert env.observation_space.shape == out + shape[2:]
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    flag = {
        "area": cv2.INTER_AREA,
        "linear": cv2.INTER_LINEAR,
        "nearest": cv2.INTER_NEAREST,
        "cubic": cv2.INTER_CUBIC,
    }
    frame = env.unwrapped.frame
    expected = cv2.resize(frame, out[::-1], interpolation=flag[interpolation]).reshape(obs.shape)
    assert np.array_equal(obs, expected)


def test_square_int_shape_and_check_env():
    env = ResizeObservation(FakeImageEnv((50, 40, 3)), 21)
    assert env.observation_space.shape == (21, 21, 3)
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize(
    "shape, kwargs, error, message",
    [
        (0, {}, ValueError, "`shape` must be >= 1"),
        ((84, -1), {}, ValueError, r"`shape\[1\]` must be >= 1"),
        ((84, 84, 3), {}, ValueError, r"`shape` must be \(height, width\)"),
        (8.5, {}, TypeError, "`shape` must be an int"),
        (84, {"interpolation": "lanczos"}, ValueError, "`interpolation` must be one of"),
    ],
)
def test_bad_arguments_raise(shape, kwargs, error, message):
    with pytest.raises(error, match=f"ResizeObservation: {message}"):
        ResizeObservation(FakeImageEnv(), shape, **kwargs)


def test_non_image_env_raises():
    import gymnasium as gym

    with pytest.raises(ValueError, match="ResizeObservation: needs uint8 images"):
        ResizeObservation(gym.make("CartPole-v1"), 8)
