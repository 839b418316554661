"""Every wrapper inside Gymnasium's Sync/AsyncVectorEnv and SB3's DummyVecEnv, and the
same seed giving the same observations in single and vector envs."""

import gymnasium as gym
import numpy as np
import pytest
from conftest import FakeImageEnv
from gymnasium.vector import AutoresetMode

import gymkit.wrappers as gw

STACKS = {
    "grayscale": lambda: gw.GrayscaleObservation(FakeImageEnv()),
    "grayscale_keep_dim": lambda: gw.GrayscaleObservation(FakeImageEnv(), keep_dim=True),
    "resize": lambda: gw.ResizeObservation(FakeImageEnv(), (5, 7)),
    "frame_stack": lambda: gw.FrameStackObservation(FakeImageEnv(), 3),
    "frame_stack_last": lambda: gw.FrameStackObservation(
        FakeImageEnv(), 3, layout="channels_last", padding="zero"
    ),
    "repeat_max_pool": lambda: gw.RepeatAction(FakeImageEnv(), 3, max_pool=True),
    "terminate_on_life_loss": lambda: gw.TerminateOnLifeLoss(FakeImageEnv()),
    "episodic_life": lambda: gw.EpisodicLife(FakeImageEnv()),
    "clip_reward": lambda: gw.ClipReward(FakeImageEnv()),
    "noop_reset": lambda: gw.NoopReset(FakeImageEnv(), 3),
}


def _single_run(make, seed, actions):
    env = make()
    obs, _ = env.reset(seed=seed)
    out = [obs]
    pending = False
    for a in actions:
        if pending:  # next-step autoreset, as the vector envs do
            obs, _ = env.reset()
            pending = False
        else:
            obs, _, terminated, truncated, _ = env.step(int(a))
            pending = terminated or truncated
        out.append(obs)
    return out


@pytest.mark.parametrize("name", list(STACKS))
@pytest.mark.parametrize("vector", ["sync", "async"])
def test_wrapper_in_gymnasium_vector_env_matches_single_envs(name, vector):
    make = STACKS[name]
    cls = gym.vector.SyncVectorEnv if vector == "sync" else gym.vector.AsyncVectorEnv
    venv = cls([make] * 2, autoreset_mode=AutoresetMode.NEXT_STEP)
    actions = np.random.default_rng(0).integers(0, 4, (25, 2))
    obs, _ = venv.reset(seed=10)
    got = [obs]
    for a in actions:
        got.append(venv.step(a)[0])
    venv.close()
    for i in range(2):
        expected = _single_run(make, 10 + i, actions[:, i])
        for t, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert np.array_equal(g[i], e), f"{name} in {vector} vector env: env {i}, step {t}"


@pytest.mark.parametrize("name", list(STACKS))
def test_wrapper_under_sb3_dummy_vec_env(name):
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([STACKS[name]] * 2)
    venv.seed(3)
    obs = venv.reset()
    assert obs.shape[0] == 2
    for _ in range(20):
        obs, rewards, dones, infos = venv.step(np.array([0, 1]))
        assert np.all(np.isfinite(rewards))
        for done, info in zip(dones, infos, strict=True):
            if done:
                assert "terminal_observation" in info


def test_batched_async_vector_env_matches_single_envs_in_both_autoreset_modes():
    make = STACKS["frame_stack"]
    for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        venv = gw.BatchedAsyncVectorEnv([make] * 4, num_workers=2, autoreset_mode=mode)
        singles = [make() for _ in range(4)]
        obs, _ = venv.reset(seed=7)
        for i, env in enumerate(singles):
            assert np.array_equal(obs[i], env.reset(seed=7 + i)[0])
        pending = [False] * 4
        actions = np.random.default_rng(1).integers(0, 4, (30, 4))
        for t, a in enumerate(actions):
            obs, reward, terminated, truncated, info = venv.step(a)
            for i, env in enumerate(singles):
                if mode == AutoresetMode.NEXT_STEP and pending[i]:
                    o, _ = env.reset()
                    r, te, tr = 0.0, False, False
                else:
                    o, r, te, tr, _ = env.step(int(a[i]))
                    if mode == AutoresetMode.SAME_STEP and (te or tr):
                        assert np.array_equal(info["final_obs"][i], o), f"{mode}: final obs {t}"
                        o, _ = env.reset()
                pending[i] = te or tr
                assert np.array_equal(obs[i], o), f"BatchedAsyncVectorEnv {mode}: env {i} step {t}"
                assert (reward[i], terminated[i], truncated[i]) == (r, te, tr)
        assert "lives" in info and info["lives"].shape == (4,)
        venv.close()


@pytest.mark.slow
def test_atari_vector_env_gives_the_single_env_observations():
    venv = gw.make_atari_vector("Breakout", 4, num_workers=2)
    singles = [gw.make_atari("Breakout") for _ in range(4)]
    obs, _ = venv.reset(seed=100)
    for i, env in enumerate(singles):
        assert np.array_equal(obs[i], env.reset(seed=100 + i)[0])
    pending = [False] * 4
    actions = np.random.default_rng(0).integers(0, 4, (300, 4))
    for t, a in enumerate(actions):
        obs, reward, terminated, truncated, _ = venv.step(a)
        for i, env in enumerate(singles):
            if pending[i]:
                o, _ = env.reset()
                pending[i] = False
            else:
                o, r, te, tr, _ = env.step(int(a[i]))
                pending[i] = te or tr
                assert reward[i] == r and terminated[i] == te
            assert np.array_equal(obs[i], o), f"make_atari_vector: env {i} step {t}"
    venv.close()


@pytest.mark.parametrize("name", list(STACKS))
def test_check_env_passes_and_spaces_match(name):
    from gymnasium.utils.env_checker import check_env

    env = STACKS[name]()
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    for _ in range(12):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert obs in env.observation_space, f"{name}: observation outside its space"
        if terminated or truncated:
            env.reset()
