import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import gymkit

IDS = list(gymkit.ENV_IDS)


def test_every_id_is_registered_by_import():
    for env_id in IDS:
        assert env_id in gym.registry


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_check_env_passes_without_warnings(env_id):
    env = gym.make(env_id).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Inherited from CartPole-v1 itself: its velocity bounds are infinite.
        warnings.filterwarnings("ignore", ".*A Box observation space minimum value is -infinity")
        warnings.filterwarnings("ignore", ".*A Box observation space maximum value is infinity")
        gym_check_env(env, skip_render_check=False)


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_check_env_passes_without_warnings(env_id):
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gym.make(env_id), warn=True)


@pytest.mark.parametrize("env_id", IDS)
def test_random_agent_runs_10000_steps(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(10_000):
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert np.isfinite(reward)
        if terminated or truncated:
            env.reset()


def test_module_prefixed_id_works_without_prior_import():
    code = (
        "import sys, gymnasium as gym\n"
        "env = gym.make('gymkit:ToyMDP-v0')\n"
        "print(env.reset(seed=0)[0], 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False"]


def test_importing_gymkit_does_not_import_torch():
    code = (
        "import sys, gymkit, gymkit.envs, gymkit.wrappers, gymkit.agents\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_toy_mdp_renders_rgb_array():
    env = gym.make("ToyMDP-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (64, 192, 3) and frame.dtype == np.uint8
    env.unwrapped.s = 2
    assert not np.array_equal(frame, env.render())


def test_registering_twice_is_harmless():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gymkit.register_envs()
