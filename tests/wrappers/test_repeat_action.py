import gymnasium as gym
import numpy as np
import pytest
from conftest import FakeImageEnv
from gymnasium.utils.env_checker import check_env

from gymkit.wrappers import GrayscaleObservation, RepeatAction


class Recorder(gym.Wrapper):
    """Remembers every raw frame and action that reaches the base env."""

    def __init__(self, env):
        super().__init__(env)
        self.frames, self.actions = [], []

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.frames.append(obs)
        return obs, info

    def step(self, action):
        out = self.env.step(action)
        self.frames.append(out[0])
        self.actions.append(action)
        return out


def test_repeats_sums_rewards_and_returns_last_info():
    rec = Recorder(FakeImageEnv(episode_length=100))
    env = RepeatAction(rec, 3)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(2)
    assert rec.actions == [2, 2, 2]
    assert reward == (1 - 2) + (2 - 2) + (3 - 2)
    assert info["t"] == 3
    assert np.array_equal(obs, rec.frames[-1])


def test_max_pool_is_the_max_of_the_last_two_frames():
    rec = Recorder(FakeImageEnv(episode_length=100))
    env = RepeatAction(rec, 4, max_pool=True)
    env.reset(seed=0)
    for _ in range(5):
        obs = env.step(1)[0]
        assert np.array_equal(obs, np.maximum(rec.frames[-2], rec.frames[-1]))


@pytest.mark.parametrize("end_at", [1, 2, 3, 4])
def test_stops_early_and_reports_the_true_last_frame(end_at):
    rec = Recorder(FakeImageEnv(episode_length=4 + end_at))
    env = RepeatAction(rec, 4, max_pool=True)
    env.reset(seed=0)
    env.step(0)
    obs, reward, terminated, truncated, info = env.step(0)
    assert terminated and info["t"] == 4 + end_at and len(rec.actions) == 4 + end_at
    assert reward == sum(t - 2 for t in range(5, 5 + end_at))
    if end_at == 4:  # the end fell on the last frame of the repeat: pooled as usual
        assert np.array_equal(obs, np.maximum(rec.frames[-2], rec.frames[-1]))
    else:
        assert np.array_equal(obs, rec.frames[-1])


def test_gymnasium_terminal_frame_repeats_the_previous_observation():
    env = RepeatAction(FakeImageEnv(episode_length=6), 4, max_pool=True, terminal_frame="gymnasium")
    env.reset(seed=0)
    previous = env.step(0)[0]
    obs, _, terminated, _, _ = env.step(0)  # ends on frame 2 of 4
    assert terminated and np.array_equal(obs, previous)


def test_repeat_one_is_identity():
    a, b = RepeatAction(FakeImageEnv(), 1, max_pool=True), FakeImageEnv()
    oa, _ = a.reset(seed=2)
    ob, _ = b.reset(seed=2)
    assert np.array_equal(oa, ob)
    for _ in range(8):
        ra, rb = a.step(0), b.step(0)
        assert np.array_equal(ra[0], rb[0]) and ra[1:4] == rb[1:4]


def test_check_env_and_path_on_a_non_ale_env():
    env = RepeatAction(FakeImageEnv(), 2, max_pool=True)
    assert env.path.startswith("generic: the base env is FakeImageEnv")
    check_env(env, skip_render_check=True)


def test_ale_fast_path_is_chosen_and_explained():
    import ale_py

    gym.register_envs(ale_py)
    assert RepeatAction(gym.make("ALE/Pong-v5", frameskip=1), 4).path == "ale-fast"
    assert (
        RepeatAction(GrayscaleObservation(gym.make("ALE/Pong-v5", frameskip=1)), 4).path
        == "ale-fast"
    )
    slow = RepeatAction(gym.wrappers.TimeLimit(gym.make("ALE/Pong-v5", frameskip=1), 100), 4)
    assert slow.path == "generic: TimeLimit below RepeatAction changes step()"


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(repeat=0), ValueError, "`repeat` must be >= 1"),
        (dict(repeat=True), TypeError, "`repeat` must be an int"),
        (dict(repeat=4, terminal_frame="first"), ValueError, "`terminal_frame` must be one of"),
    ],
)
def test_bad_arguments_raise(kwargs, error, message):
    with pytest.raises(error, match=f"RepeatAction: {message}"):
        RepeatAction(FakeImageEnv(), **kwargs)


def test_double_frame_skip_is_refused():
    import ale_py

    gym.register_envs(ale_py)
    with pytest.raises(
        ValueError, match=r"RepeatAction: the base env skips frames itself \(frameskip=4\)"
    ):
        RepeatAction(gym.make("ALE/Breakout-v5"), 4)
    with pytest.raises(ValueError, match="RepeatAction: the env already has a RepeatAction below"):
        RepeatAction(RepeatAction(FakeImageEnv(), 2), 2)


def test_max_pool_needs_a_box_space():
    import gymkit  # noqa: F401

    with pytest.raises(TypeError, match="RepeatAction: max_pool=True needs a Box"):
        RepeatAction(gym.make("ToyMDP-v0"), 2, max_pool=True)


def test_render_fps_is_per_agent_step():
    import ale_py

    gym.register_envs(ale_py)
    env = gym.make("ALE/Pong-v5", frameskip=1)
    assert RepeatAction(env, 4).metadata["render_fps"] == env.metadata["render_fps"] / 4
