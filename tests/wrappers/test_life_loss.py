import gymnasium as gym
import numpy as np
import pytest
from conftest import FakeImageEnv

from gymkit.wrappers import EpisodicLife, TerminateOnLifeLoss


def test_terminate_on_life_loss_really_resets():
    env = TerminateOnLifeLoss(FakeImageEnv(episode_length=20, life_every=4))
    env.reset(seed=0)
    flags = [env.step(0)[2] for _ in range(4)]
    assert flags == [False, False, False, True]
    _, info = env.reset()
    assert info["t"] == 0  # a real reset


def test_episodic_life_continues_the_game_until_game_over():
    env = EpisodicLife(FakeImageEnv(episode_length=10, life_every=4))
    _, info = env.reset(seed=0)
    assert info["reset"] == "game"
    ends = []
    for _ in range(4):
        _, _, terminated, _, info = env.step(0)
    assert terminated and info["life_lost"] and not info["game_over"]
    _, info = env.reset()
    assert info["reset"] == "life" and info["t"] == 5  # one no-op step, same game
    for _ in range(5):
        _, _, terminated, _, info = env.step(0)
        ends.append((terminated, info["life_lost"], info["game_over"]))
    assert ends[-1] == (True, False, True)
    _, info = env.reset()
    assert info["reset"] == "game" and info["t"] == 0


def test_life_loss_wrappers_match_sb3_episodic_life_on_breakout():
    import ale_py
    from stable_baselines3.common.atari_wrappers import EpisodicLifeEnv

    gym.register_envs(ale_py)
    ours = EpisodicLife(gym.make("BreakoutNoFrameskip-v4"))
    ref = EpisodicLifeEnv(gym.make("BreakoutNoFrameskip-v4"))
    oa, _ = ours.reset(seed=1)
    ob, _ = ref.reset(seed=1)
    rng = np.random.default_rng(1)
    resets = 0
    for _ in range(3000):
        a = int(rng.integers(4))
        ra, rb = ours.step(a), ref.step(a)
        assert np.array_equal(ra[0], rb[0]) and ra[1:4] == rb[1:4]
        if ra[2] or ra[3]:
            resets += 1
            oa, _ = ours.reset()
            ob, _ = ref.reset()
            assert np.array_equal(oa, ob)
    assert resets >= 5


@pytest.mark.parametrize("cls", [EpisodicLife, TerminateOnLifeLoss])
def test_missing_lives_is_a_clear_error(cls):
    env = cls(gym.make("CartPole-v1"))
    with pytest.raises(KeyError, match=f"{cls.__name__}: the env's info has no 'lives' key"):
        env.reset(seed=0)
        env.step(0)


def test_episodic_life_reset_with_a_seed_starts_a_new_game():
    env = EpisodicLife(FakeImageEnv(episode_length=10, life_every=4))
    env.reset(seed=0)
    for _ in range(4):
        terminated = env.step(0)[2]
    assert terminated
    _, info = env.reset(seed=1)
    assert info["reset"] == "game" and info["t"] == 0
