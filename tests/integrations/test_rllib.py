"""gymkit on Ray RLlib's env runners (`gymkit.integrations.rllib`), on a local Ray with 2 CPUs.

CI runs this module only in the ray venv (ray[rllib] pins its own gymnasium); elsewhere
it is skipped. PPO runs use 2 remote env runners, tiny batches and tiny models.
"""

from __future__ import annotations

import doctest
import math
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

NO_RAY = "gymkit.integrations.rllib needs the ray extra: pip install -e '.[ray]'"
ray = pytest.importorskip("ray", reason=NO_RAY)
pytest.importorskip("ray.rllib", reason=NO_RAY)

import torch  # noqa: E402  (ray[rllib] brings it)
from ray.rllib.algorithms.ppo import PPOConfig  # noqa: E402

import gymkit.integrations.rllib  # noqa: E402
from gymkit.integrations.rllib import (  # noqa: E402
    UNSHAPED_RETURN,
    EnvCreationError,
    EnvCreator,
    configure,
    encode_observations,
)

TINY_MLP = {"fcnet_hiddens": [32], "head_fcnet_hiddens": [32]}
TINY_CNN = {
    "conv_filters": [[8, [8, 8], 4], [16, [4, 4], 2], [16, [11, 11], 1]],
    "head_fcnet_hiddens": [32],
}


@pytest.fixture(scope="module")
def local_ray():
    # "local": a Ray of its own, even beside another one (an xdist worker, a `ray start`).
    ray.init(address="local", num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def tiny_ppo(config, *, num_env_runners=2, batch=256, model=TINY_MLP):
    return (
        config.env_runners(num_env_runners=num_env_runners, rollout_fragment_length="auto")
        .training(train_batch_size_per_learner=batch, minibatch_size=64, num_epochs=2)
        .rl_module(model_config=model)
        .debugging(seed=0)
        # Raise a runner's error here instead of retrying it for a minute.
        .fault_tolerance(restart_failed_env_runners=False)
    )


def train(config, iterations):
    algo = config.build_algo()
    try:
        pids = algo.env_runner_group.foreach_env_runner(
            lambda runner: (os.getpid(), runner.env is not None), local_env_runner=False
        )
        assert len(pids) == config.num_env_runners, pids
        assert all(pid != os.getpid() and has_env for pid, has_env in pids), pids
        results = [algo.train() for _ in range(iterations)]
        return algo.get_module(), results
    finally:
        algo.stop()


def assert_trained(result, batch):
    runners = result["env_runners"]
    assert runners["num_env_steps_sampled"] >= batch, runners
    assert runners["num_episodes"] > 0, "the iteration finished no episode"
    assert math.isfinite(runners["episode_return_mean"])
    losses = result["learners"]["default_policy"]
    for name in ("total_loss", "policy_loss", "vf_loss"):
        assert math.isfinite(losses[name]), (name, losses[name])


# --- without Ray running ------------------------------------------------------------


def test_importing_gymkit_does_not_import_ray():
    code = "import sys, gymkit, gymkit.envs, gymkit.wrappers; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_without_ray_the_import_error_names_the_extra():
    code = "import sys; sys.modules['ray'] = None; import gymkit.integrations.rllib"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert "ImportError: gymkit.integrations.rllib needs Ray RLlib" in out.stderr
    assert "pip install -e '.[ray]'" in out.stderr


def test_docstring_examples_run():
    result = doctest.testmod(gymkit.integrations.rllib, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


class _SpaceEnv(gym.Env):
    """Observations sampled from any space, to check the encoding RLlib gets."""

    def __init__(self, space):
        self.observation_space = space
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def test_discrete_states_are_one_hot_floats():
    env = encode_observations(gym.make("ToyMDP-v0"))
    assert env.observation_space == spaces.Box(0.0, 1.0, (3,), np.float32)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs.tolist() == [1.0, 0.0, 0.0]
    for action in (0, 2, 1, 1):
        obs = env.step(action)[0]
        assert obs.tolist() == np.eye(3)[env.unwrapped.s].tolist()


@pytest.mark.parametrize(
    "space, shape",
    [
        (spaces.Box(0, 255, (6, 8), np.uint8), (6, 8, 1)),  # a gray frame gets a channel
        (spaces.Box(0, 255, (6, 8, 4), np.uint8), (6, 8, 4)),
        (spaces.Box(0, 255, (128,), np.uint8), (128,)),  # Atari RAM
        (spaces.MultiDiscrete([2, 3]), (5,)),
        (spaces.Dict({"a": spaces.Discrete(2), "b": spaces.Box(-1, 1, (2,))}), (4,)),
        (spaces.Box(-1, 1, (2, 3), np.float64), (6,)),
    ],
)
def test_every_encoded_space_is_a_float_box_rllib_has_a_model_for(space, shape):
    env = encode_observations(_SpaceEnv(space))
    assert env.observation_space.shape == shape
    assert np.issubdtype(env.observation_space.dtype, np.floating)
    obs, _ = env.reset(seed=0)
    assert obs.shape == shape and obs.dtype == env.observation_space.dtype
    if space.dtype == np.uint8:
        raw = _SpaceEnv(space).reset(seed=0)[0]
        np.testing.assert_allclose(obs.reshape(raw.shape), raw / np.float32(255), rtol=1e-6)


def test_a_one_d_float_box_is_left_alone():
    env = gym.make("ShapedCartPole-v1")
    assert encode_observations(env) is env


def test_channel_first_images_fail_loudly():
    with pytest.raises(ValueError, match=r"\(4, 84, 84\) look channel-first"):
        encode_observations(_SpaceEnv(spaces.Box(0, 255, (4, 84, 84), np.uint8)))


@pytest.mark.parametrize("profile", ["gymnasium", "sb3", "machado2018"])
def test_every_atari_profile_is_made_channel_last(profile):
    env = EnvCreator("Breakout", atari_profile=profile)({})
    assert env.observation_space == spaces.Box(0.0, 1.0, (84, 84, 4), np.float32)


def test_an_explicit_channel_first_atari_stack_fails_at_config_time():
    with pytest.raises(EnvCreationError, match="'Breakout'.*'gymnasium'.*channel-first"):
        configure(PPOConfig(), "Breakout", atari_profile="gymnasium", stack_layout="channels_first")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_subtraction": -1.0}, r"max_subtraction': -1\.0.*must be > 0"),
        ({"max_subtractoin": 0.5}, r"max_subtractoin.*unexpected keyword"),
    ],
)
def test_a_broken_env_kwarg_fails_at_config_time_naming_id_and_kwarg(kwargs, message):
    with pytest.raises(EnvCreationError, match=r"cannot make 'ShapedCartPole-v1'.*" + message):
        configure(PPOConfig(), "ShapedCartPole-v1", **kwargs)


def test_configure_points_the_config_at_a_registered_creator():
    config = configure(PPOConfig(), "ToyMDP-v0", invalid_action_penalty=-5.0)
    assert config.env == "gymkit.rllib/ToyMDP-v0"
    assert config.env_config == {"invalid_action_penalty": -5.0}
    assert config.callbacks_on_episode_step is None  # no shaped reward to report
    with pytest.raises(TypeError, match="must be an RLlib AlgorithmConfig"):
        configure({}, "ToyMDP-v0")


def test_reconfiguring_keeps_user_callbacks_and_drops_stale_ones():
    def mine(**kwargs):
        pass

    config = PPOConfig().callbacks(on_episode_end=mine)
    configure(config, "ShapedCartPole-v1")
    configure(config, "ShapedCartPole-v1")
    assert len(config.callbacks_on_episode_step) == 1
    assert config.callbacks_on_episode_end[0] is mine and len(config.callbacks_on_episode_end) == 2
    configure(config, "ToyMDP-v0")
    assert config.callbacks_on_episode_step is None and config.callbacks_on_episode_end == [mine]


# --- on a local Ray, 2 CPUs ----------------------------------------------------------


def test_ppo_trains_on_toy_mdp_with_two_remote_runners(local_ray):
    module, results = train(tiny_ppo(configure(PPOConfig(), "ToyMDP-v0")), iterations=2)
    assert module.observation_space == spaces.Box(0.0, 1.0, (3,), np.float32)
    for result in results:
        assert_trained(result, batch=256)
        # The time limit cuts this continuing task at 100 steps.
        assert result["env_runners"]["episode_len_mean"] == 100


def test_ppo_on_shaped_cartpole_reports_the_true_score(local_ray):
    config = tiny_ppo(configure(PPOConfig(), "ShapedCartPole-v1"))
    _, results = train(config, iterations=2)
    for result in results:
        assert_trained(result, batch=256)
        runners = result["env_runners"]
        # CartPole pays 1 per step: its true return is the episode length, which the
        # shaping (minus |angle| per step) lowers.
        assert runners[UNSHAPED_RETURN] == pytest.approx(runners["episode_len_mean"])
        assert runners["episode_return_mean"] < runners[UNSHAPED_RETURN]


def test_ppo_feeds_an_atari_preset_to_rllibs_cnn_channel_last(local_ray):
    config = configure(PPOConfig(), "Breakout", atari_profile="sb3")  # life loss: short episodes
    module, (result,) = train(tiny_ppo(config, model=TINY_CNN), iterations=1)
    assert_trained(result, batch=256)
    assert module.observation_space == spaces.Box(0.0, 1.0, (84, 84, 4), np.float32)
    first_conv = next(m for m in module.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.in_channels == 4  # the 4 stacked frames, not 84 image rows


def test_a_module_prefixed_id_needs_no_registration_on_remote_runners(local_ray):
    # The trap: an id registered in this process (import gymkit) is unknown in a worker.
    assert "ShapedCartPole-v1" in gym.registry
    with pytest.raises(gym.error.NameNotFound):
        ray.get(ray.remote(gym.make).remote("ShapedCartPole-v1"))
    # Plain RLlib, no gymkit code: the "gymkit:" prefix makes the runner import gymkit.
    config = PPOConfig().environment("gymkit:ShapedCartPole-v1")
    _, (result,) = train(tiny_ppo(config, num_env_runners=1, batch=128), iterations=1)
    assert_trained(result, batch=128)


def test_a_kwarg_broken_after_configure_fails_on_the_runner_naming_id_and_kwarg(local_ray):
    config = tiny_ppo(configure(PPOConfig(), "ShapedCartPole-v1"), num_env_runners=1)
    config.environment(env_config={"max_subtraction": -1.0})  # e.g. set later, or by a sweep
    with pytest.raises(EnvCreationError, match=r"'ShapedCartPole-v1'.*max_subtraction': -1\.0"):
        config.build_algo()
