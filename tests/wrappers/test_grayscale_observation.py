import pickle

import cv2
import gymnasium as gym
import numpy as np
import pytest
from conftest import FakeImageEnv
from gymnasium.utils.env_checker import check_env

from gymkit.wrappers import GrayscaleObservation


@pytest.mark.parametrize("shape", [(12, 10, 3), (33, 47, 3), (1, 1, 3)])
@pytest.mark.parametrize("keep_dim", [False, True])
def test_space_matches_observations_and_opencv_luminance(shape, keep_dim):
    env = GrayscaleObservation(FakeImageEnv(shape), keep_dim=keep_dim)
    assert env.observation_space.shape == (shape[:2] + (1,) if keep_dim else shape[:2])
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    expected = cv2.cvtColor(env.unwrapped.frame, cv2.COLOR_RGB2GRAY)
    assert np.array_equal(obs.reshape(shape[:2]), expected)
    check_env(env, skip_render_check=True)


def test_ale_source_equals_opencv_on_ale_frames():
    import ale_py

    gym.register_envs(ale_py)
    a = GrayscaleObservation(gym.make("ALE/Breakout-v5", frameskip=1), source="ale")
    b = GrayscaleObservation(gym.make("ALE/Breakout-v5", frameskip=1), source="opencv")
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    assert np.array_equal(oa, ob)
    for t in range(300):
        oa = a.step(t % 4)[0]
        ob = b.step(t % 4)[0]
        assert np.array_equal(oa, ob)


def test_picklable_with_either_source():
    import ale_py

    gym.register_envs(ale_py)
    for env in (
        GrayscaleObservation(FakeImageEnv()),
        GrayscaleObservation(gym.make("ALE/Pong-v5"), source="ale"),
    ):
        clone = pickle.loads(pickle.dumps(env))
        assert clone.observation_space == env.observation_space


@pytest.mark.parametrize(
    "env, kwargs, error, message",
    [
        (lambda: FakeImageEnv((8, 8)), {}, ValueError, r"C in \(3,\)"),
        (lambda: FakeImageEnv((8, 8, 4)), {}, ValueError, r"C in \(3,\)"),
        (lambda: gym.make("CartPole-v1"), {}, ValueError, "uint8 images"),
        (lambda: gym.make("ToyMDP-v0"), {}, TypeError, "needs an image observation space"),
        (lambda: FakeImageEnv(), {"source": "ale"}, ValueError, "needs an ALE Atari env"),
        (lambda: FakeImageEnv(), {"source": "pil"}, ValueError, "`source` must be one of"),
    ],
)
def test_bad_input_raises_naming_the_wrapper(env, kwargs, error, message):
    import gymkit  # noqa: F401

    with pytest.raises(error, match=f"GrayscaleObservation: .*{message}"):
        GrayscaleObservation(env(), **kwargs)
