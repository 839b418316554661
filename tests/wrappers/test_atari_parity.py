"""gymkit's Atari profiles against the real Gymnasium and SB3 stacks, array for array.

Each case drives both stacks with the same seed and the same random actions for
2,000+ agent steps across several episode ends, and compares every observation
(np.array_equal), reward, flag and the lives. Terminal observations are compared
too: the profiles reproduce their reference's terminal-frame rule.
"""

import gymnasium as gym
import numpy as np
import pytest

from gymkit.wrappers import RepeatAction, make_atari

ale_py = pytest.importorskip("ale_py")
gym.register_envs(ale_py)

SEEDS = [0, 1, 2, 3, 4]
STEPS = {"Breakout": 2000, "Pong": 2400}


def _repeat_action(env):
    while not isinstance(env, RepeatAction):
        env = env.env
    return env


def gymnasium_reference(game):
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    env = gym.make(f"ALE/{game}-v5", frameskip=1)
    env = AtariPreprocessing(
        env, noop_max=30, frame_skip=4, screen_size=84, terminal_on_life_loss=False
    )
    return FrameStackObservation(env, 4)


@pytest.mark.slow
@pytest.mark.parametrize("game", ["Breakout", "Pong"])
@pytest.mark.parametrize("seed", SEEDS)
def test_gymnasium_profile_is_bit_exact(game, seed):
    ref, ours = gymnasium_reference(game), make_atari(game, "gymnasium")
    assert _repeat_action(ours).path == "ale-fast"
    assert ours.observation_space == ref.observation_space
    o_ref, i_ref = ref.reset(seed=seed)
    o, i = ours.reset(seed=seed)
    assert np.array_equal(o, o_ref) and i == i_ref, "Gymnasium parity: first reset differs"
    rng = np.random.default_rng(seed)
    ends = 0
    for step in range(STEPS[game]):
        a = int(rng.integers(ours.action_space.n))
        r_ref, r = ref.step(a), ours.step(a)
        assert np.array_equal(r[0], r_ref[0]), (
            f"Gymnasium parity: observation differs at step {step}"
        )
        assert r[1:] == r_ref[1:], f"Gymnasium parity: reward/flags/info differ at step {step}"
        if r[2] or r[3]:
            ends += 1
            o_ref, i_ref = ref.reset()
            o, i = ours.reset()
            assert np.array_equal(o, o_ref) and i == i_ref, (
                f"Gymnasium parity: reset after step {step}"
            )
    assert ends >= 2


@pytest.mark.slow
@pytest.mark.parametrize("game", ["Breakout", "Pong"])
@pytest.mark.parametrize("seed", SEEDS)
def test_sb3_profile_is_bit_exact(game, seed):
    from stable_baselines3.common.atari_wrappers import AtariWrapper
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack

    ref = VecFrameStack(DummyVecEnv([lambda: AtariWrapper(gym.make(f"{game}NoFrameskip-v4"))]), 4)
    ref.seed(seed)
    ours = make_atari(game, "sb3")
    assert _repeat_action(ours).path == "ale-fast"
    assert ours.observation_space == ref.observation_space
    assert np.array_equal(ours.reset(seed=seed)[0], ref.reset()[0]), (
        "SB3 parity: first reset differs"
    )
    rng = np.random.default_rng(seed)
    ends = 0
    for step in range(STEPS[game]):
        a = int(rng.integers(ours.action_space.n))
        o_ref, r_ref, done, infos = ref.step(np.array([a]))
        o, r, terminated, truncated, info = ours.step(a)
        assert r == r_ref[0] and (terminated or truncated) == done[0], f"SB3 parity: step {step}"
        if done[0]:
            ends += 1
            assert np.array_equal(o, infos[0]["terminal_observation"]), (
                f"SB3 parity: terminal obs {step}"
            )
            assert infos[0]["TimeLimit.truncated"] == (truncated and not terminated)
            o, _ = ours.reset()
        lives = ours.unwrapped.ale.lives()
        assert lives == ref.envs[0].unwrapped.ale.lives(), f"SB3 parity: lives at step {step}"
        assert np.array_equal(o, o_ref[0]), f"SB3 parity: observation differs at step {step}"
    assert ends >= 2


def test_machado2018_profile_settings():
    env = make_atari("Breakout", "machado2018")
    ale = env.unwrapped.ale
    assert ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    assert env.action_space.n == 18  # the full action set
    obs, info = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and info["episode_frame_number"] == 0  # no no-op start
    lives = info["lives"]
    while True:  # a lost life does not end the episode
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        if info["lives"] < lives or terminated:
            break
    assert not terminated
