import math
import random
import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import gymkit  # noqa: F401

th = pytest.importorskip("torch")
from stable_baselines3.common.torch_layers import NatureCNN  # noqa: E402
from stable_baselines3.common.type_aliases import ReplayBufferSamples  # noqa: E402

from gymkit.agents import (  # noqa: E402
    DQNAgent,
    DQNConfig,
    DuelingDQNPolicy,
    DuelingQNetwork,
    GymkitDQN,
    SeededReplayBuffer,
)


@pytest.fixture(autouse=True)
def one_torch_thread():
    # Small networks on a shared 2-core machine: more threads only contend (8x slower here).
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


def _numpy_mlp(linears, x):
    """ReLU MLP forward in numpy from torch Linear layers (the hand computation)."""
    for i, layer in enumerate(linears):
        x = x @ layer.weight.detach().numpy().T.astype(np.float64) + layer.bias.detach().numpy()
        if i < len(linears) - 1:
            x = np.maximum(x, 0.0)
    return x


def _linears(module):
    return [m for m in module.modules() if isinstance(m, th.nn.Linear)]


def _fixed_batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    to = lambda a: th.as_tensor(a, dtype=th.float32)  # noqa: E731
    return ReplayBufferSamples(
        observations=to(rng.normal(size=(n, 4))),
        actions=th.as_tensor(rng.integers(0, 2, (n, 1))),
        next_observations=to(rng.normal(size=(n, 4))),
        dones=to(rng.integers(0, 2, (n, 1))),
        rewards=to(rng.normal(size=(n, 1))),
    )


def _model_with_distinct_target(**kwargs):
    model = GymkitDQN(
        "MlpPolicy", gym.make("CartPole-v1"), gamma=0.9, seed=0, device="cpu", **kwargs
    )
    gen = th.Generator().manual_seed(1)
    with th.no_grad():  # a target network that disagrees with the online one
        for p in model.q_net_target.parameters():
            p.add_(th.randn(p.shape, generator=gen))
    return model


def test_double_dqn_target_matches_a_hand_computation():
    model = _model_with_distinct_target(double_q=True)
    batch = _fixed_batch()
    s2 = batch.next_observations.numpy().astype(np.float64)
    q_online = _numpy_mlp(_linears(model.q_net), s2)
    q_target = _numpy_mlp(_linears(model.q_net_target), s2)
    r, d = batch.rewards.numpy()[:, 0], batch.dones.numpy()[:, 0]

    chosen = q_online.argmax(axis=1)  # online network picks ...
    double = r + 0.9 * (1 - d) * q_target[np.arange(16), chosen]  # ... target network scores
    np.testing.assert_allclose(
        model.compute_target(batch).numpy()[:, 0], double, rtol=1e-5, atol=1e-5
    )

    model.double_q = False
    plain = r + 0.9 * (1 - d) * q_target.max(axis=1)
    np.testing.assert_allclose(
        model.compute_target(batch).numpy()[:, 0], plain, rtol=1e-5, atol=1e-5
    )
    assert not np.allclose(double, plain)  # the batch tells the two apart


def test_train_uses_compute_target_and_the_chosen_loss():
    model = GymkitDQN(
        "MlpPolicy",
        gym.make("CartPole-v1"),
        learning_starts=1_000,
        seed=0,
        loss="mse",
        device="cpu",
    )
    model.learn(200)  # fills the buffer, no training yet
    calls = []
    original = model.compute_target
    model.compute_target = lambda data: calls.append(1) or original(data)
    model.train(gradient_steps=3, batch_size=8)
    assert len(calls) == 3 and model._n_updates == 3
    assert not model.q_net.training  # `predict` relies on evaluation mode


@pytest.mark.parametrize("aggregation", ["mean", "max"])
def test_dueling_head_matches_a_hand_computation(aggregation):
    model = GymkitDQN(
        DuelingDQNPolicy,
        gym.make("CartPole-v1"),
        policy_kwargs=dict(net_arch=[16, 16], aggregation=aggregation),
        seed=0,
        device="cpu",
    )
    net = model.q_net
    assert isinstance(net, DuelingQNetwork) and isinstance(model.q_net_target, DuelingQNetwork)
    x = np.random.default_rng(0).normal(size=(9, 4))
    hidden = np.maximum(_numpy_mlp(_linears(net.q_net.trunk), x), 0.0)  # trunk ends in ReLU
    value = _numpy_mlp([net.q_net.value], hidden)
    advantage = _numpy_mlp([net.q_net.advantage], hidden)
    agg = (
        advantage.mean(axis=1, keepdims=True)
        if aggregation == "mean"
        else advantage.max(axis=1, keepdims=True)
    )
    expected = value + advantage - agg
    with th.no_grad():
        q = net(th.as_tensor(x, dtype=th.float32)).numpy()
    np.testing.assert_allclose(q, expected, rtol=1e-5, atol=1e-5)


def test_seed_reproduces_training_without_touching_global_generators():
    np_state, torch_state, py_state = (
        np.random.get_state()[1].copy(),
        th.get_rng_state(),
        random.getstate(),
    )
    config = DQNConfig.cartpole(
        learning_starts=100, train_freq=16, gradient_steps=8, eval_freq=0, target_score=None, seed=3
    )
    a = DQNAgent(gym.make("CartPole-v1"), config).learn(600)
    b = DQNAgent(gym.make("CartPole-v1"), config).learn(600)
    c = DQNAgent(gym.make("CartPole-v1"), dataclass_replace(config, seed=4)).learn(600)
    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    np.testing.assert_array_equal(a.q_values(obs), b.q_values(obs))
    assert a.history == b.history
    assert not np.array_equal(a.q_values(obs), c.q_values(obs))
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert th.equal(th.get_rng_state(), torch_state) and random.getstate() == py_state


def dataclass_replace(config, **changes):
    import dataclasses

    return dataclasses.replace(config, **changes)


class _OneHotBandit(gym.Env):
    """Observation: a one-hot context; reward 1 for the action that matches it; 20-step episodes."""

    observation_space = spaces.Box(0.0, 1.0, (4,), np.float32)
    action_space = spaces.Discrete(4)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._draw(), {}

    def _draw(self):
        self.context = int(self.np_random.integers(4))
        return np.eye(4, dtype=np.float32)[self.context]

    def step(self, action):
        reward = float(action == self.context)
        self.t += 1
        return self._draw(), reward, False, self.t >= 20, {}


@pytest.mark.slow
def test_double_dueling_dqn_learns_a_known_optimum():
    # Truncation bootstraps, so with gamma 0.5: Q* = 1 + 0.5 * 2 = 2 (right action), 1 (wrong).
    config = DQNConfig(
        net_arch=(32,), double_q=True, dueling=True, learning_rate=3e-3, buffer_size=5_000,
        learning_starts=200, batch_size=32, gamma=0.5, train_freq=1, gradient_steps=1,
        target_update_interval=100, exploration_steps=1_000, exploration_final_eps=0.1,
        device="cpu", seed=0,
    )  # fmt: skip
    agent = DQNAgent(_OneHotBandit(), config).learn(3_000)
    contexts = np.eye(4, dtype=np.float32)
    np.testing.assert_array_equal(agent.predict(contexts), np.arange(4))
    q = agent.q_values(contexts)
    np.testing.assert_allclose(np.diag(q), 2.0, atol=0.3)
    np.testing.assert_allclose(q[~np.eye(4, dtype=bool)], 1.0, atol=0.3)


def test_history_callback_progress_bar_and_early_stop_on_evaluation():
    config = DQNConfig.cartpole(
        learning_starts=100, eval_freq=300, eval_episodes=2, target_score=1.0, seed=0
    )
    agent = DQNAgent(gym.make("ShapedCartPole-v1"), config)
    steps = []
    agent.learn(5_000, callback=lambda _, info: steps.append(info["step"]), progress_bar=True)
    h = agent.history
    assert agent.model.num_timesteps == 300 and steps == list(range(1, 301))
    assert h["eval_step"] == [300] and h["eval_mean"][0] >= 1.0
    # Shaped CartPole: the true score is the episode length, the shaped return is lower.
    assert h["episode_score"] == [float(n) for n in h["episode_length"]]
    assert all(r < s for r, s in zip(h["episode_return"], h["episode_score"], strict=True))

    agent.learn(1_000, callback=lambda _, info: info["step"] < 350)
    assert agent.model.num_timesteps == 350


def test_save_load_reproduces_predict(tmp_path):
    config = DQNConfig.cartpole(
        dueling=True,
        learning_starts=100,
        train_freq=16,
        gradient_steps=4,
        eval_freq=0,
        target_score=None,
        seed=0,
    )
    agent = DQNAgent(gym.make("CartPole-v1"), config).learn(400)
    agent.save(tmp_path / "dqn")
    obs = np.random.default_rng(1).normal(size=(64, 4)).astype(np.float32)
    loaded = DQNAgent.load(tmp_path / "dqn.zip", device="cpu")
    np.testing.assert_array_equal(loaded.predict(obs), agent.predict(obs))
    np.testing.assert_array_equal(loaded.q_values(obs), agent.q_values(obs))
    assert loaded.predict(obs[0]) == agent.predict(obs[0])
    assert loaded.config == agent.config and loaded.history == agent.history
    assert isinstance(loaded.model.q_net, DuelingQNetwork) and loaded.model.double_q
    resumed = DQNAgent.load(tmp_path / "dqn.zip", env=gym.make("CartPole-v1"), device="cpu").learn(
        50
    )
    assert resumed.model.num_timesteps >= 450  # SB3 rounds up to whole rounds of train_freq


class _FakeAtari(gym.Env):
    observation_space = spaces.Box(0, 255, (4, 84, 84), np.uint8)
    action_space = spaces.Discrete(4)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        self.t += 1
        return self.observation_space.sample(), float(action == 1), self.t >= 30, False, {}


def test_atari_book_preset_builds_the_nature_cnn_with_the_books_optimizer():
    config = DQNConfig.atari_book(
        buffer_size=500,
        learning_starts=40,
        batch_size=4,
        exploration_steps=80,
        device="cpu",
        seed=0,
    )
    assert (config.learning_rate, config.target_update_interval, config.gamma) == (
        1.5e-4,
        8_000,
        0.99,
    )
    agent = DQNAgent(_FakeAtari(), config).learn(100)
    model = agent.model
    assert isinstance(model.q_net.features_extractor, NatureCNN)
    optimizer = model.policy.optimizer
    assert isinstance(optimizer, th.optim.RMSprop)
    group = optimizer.param_groups[0]
    assert (group["alpha"], group["eps"], group["centered"], group["momentum"]) == (
        0.95,
        1e-5,
        True,
        0.0,
    )
    assert model.exploration_rate == pytest.approx(0.01) and math.isinf(model.max_grad_norm)
    assert model.loss == "huber" and model.replay_buffer.optimize_memory_usage
    assert agent.predict(_FakeAtari.observation_space.sample()) in range(4)


def test_from_atari_uses_gymkit_wrappers_when_available():
    wrappers = pytest.importorskip("gymkit.wrappers")
    if not hasattr(wrappers, "make_atari"):
        pytest.skip("gymkit.wrappers.make_atari is not there yet")
    agent = DQNAgent.from_atari("Pong", config=DQNConfig.atari_book(buffer_size=100, device="cpu"))
    assert agent.config.policy == "cnn"


def test_seeded_replay_buffer_is_reproducible():
    def filled(seed):
        buf = SeededReplayBuffer(
            50, spaces.Box(-1, 1, (2,)), spaces.Discrete(2), seed=seed, n_envs=2
        )
        for i in range(30):
            buf.add(np.full((2, 2), i, np.float32), np.full((2, 2), i + 1, np.float32),
                    np.array([[i % 2], [1]]), np.array([i, -i], np.float32),
                    np.array([False, False]), [{}, {}])  # fmt: skip
        return buf

    a, b = filled(0).sample(16), filled(0).sample(16)
    assert th.equal(a.observations, b.observations) and th.equal(a.rewards, b.rewards)
    assert th.equal(a.next_observations, a.observations + 1)


def test_bad_envs_and_configs_raise_clear_errors():
    with pytest.raises(
        TypeError,
        match=re.escape(
            "DQNAgent: `env.action_space` must be Discrete, got Box(-2.0, 2.0, (1,), float32)"
        ),
    ):
        DQNAgent(gym.make("Pendulum-v1"))
    with pytest.raises(
        TypeError,
        match=re.escape("DQNAgent: `env.observation_space` must be a Box, got Discrete(16)"),
    ):
        DQNAgent(gym.make("FrozenLake-v1"))
    with pytest.raises(ValueError, match="DQNAgent: policy 'cnn' needs image observations"):
        DQNAgent(gym.make("CartPole-v1"), DQNConfig(policy="cnn"))
    with pytest.raises(ValueError, match="DQNConfig: `target_score` needs `eval_freq` > 0"):
        DQNConfig(target_score=100.0)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "DQNConfig: `dueling_aggregation` must be one of ('mean', 'max'), got 'sum'"
        ),
    ):
        DQNConfig(dueling_aggregation="sum")
    with pytest.raises(ValueError, match="GymkitDQN: `loss` must be 'huber' or 'mse', got 'l1'"):
        GymkitDQN("MlpPolicy", gym.make("CartPole-v1"), loss="l1")
