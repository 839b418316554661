import gymnasium as gym
import numpy as np
import pytest
from conftest import FakeImageEnv

from gymkit.wrappers import FireReset, NoopReset


@pytest.fixture(autouse=True)
def _ale():
    import ale_py

    gym.register_envs(ale_py)


def test_noop_count_comes_from_the_env_rng_and_matches_sb3():
    from stable_baselines3.common.atari_wrappers import NoopResetEnv

    for seed in range(5):
        ours = NoopReset(gym.make("ALE/Pong-v5", frameskip=1), 30)
        ref = NoopResetEnv(gym.make("ALE/Pong-v5", frameskip=1), 30)
        oa, ia = ours.reset(seed=seed)
        ob, ib = ref.reset(seed=seed)
        assert np.array_equal(oa, ob) and ia["episode_frame_number"] == ib["episode_frame_number"]
        assert 1 <= ia["episode_frame_number"] <= 30


def test_noops_are_random_across_resets():
    env = NoopReset(gym.make("ALE/Pong-v5", frameskip=1), 30)
    env.reset(seed=0)
    counts = {env.reset()[1]["episode_frame_number"] for _ in range(10)}
    assert len(counts) > 3


def test_fire_reset_matches_sb3():
    from stable_baselines3.common.atari_wrappers import FireResetEnv

    ours = FireReset(gym.make("BreakoutNoFrameskip-v4"))
    ref = FireResetEnv(gym.make("BreakoutNoFrameskip-v4"))
    oa, info = ours.reset(seed=0)
    ob, _ = ref.reset(seed=0)
    assert np.array_equal(oa, ob) and info["episode_frame_number"] == 2


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: NoopReset(gym.make("ALE/Pong-v5"), 0), "NoopReset: `noop_max` must be >= 1"),
        (
            lambda: NoopReset(gym.make("ALE/Pong-v5"), 30, noop_action=1),
            "NoopReset: action 1 means 'FIRE', expected 'NOOP'",
        ),
        (
            lambda: NoopReset(FakeImageEnv(), 30, noop_action=9),
            "NoopReset: `noop_action` 9 is not in",
        ),
        (lambda: FireReset(FakeImageEnv()), "FireReset: needs an env whose action 1 means 'FIRE'"),
        (
            lambda: FireReset(gym.make("ALE/Skiing-v5")),
            "FireReset: needs an env whose action 1 means 'FIRE'",
        ),
    ],
)
def test_bad_input_raises(make, message):
    with pytest.raises(ValueError, match=message):
        make()
