import re

import gymnasium as gym
import numpy as np
import pytest

import gymkit  # noqa: F401
from gymkit.agents import ReinforceAgent, ReinforceConfig, evaluate
from gymkit.agents.reinforce import _PolicyNetwork, discount_and_normalize_returns


def test_discount_and_normalize_match_the_book():
    rewards = np.array([[10.0, 10.0], [0.0, 20.0], [-50.0, 0.0]])
    active = np.array([[True, True], [True, True], [True, False]])
    raw = discount_and_normalize_returns(rewards, active, 0.8, normalize=False)
    np.testing.assert_allclose(raw[:, 0], [-22, -40, -50])
    np.testing.assert_allclose(raw[:2, 1], [26, 20])
    normalized = discount_and_normalize_returns(rewards, active, 0.8)
    np.testing.assert_allclose(normalized[:, 0], [-0.28435071, -0.86597718, -1.18910299])
    np.testing.assert_allclose(normalized[:2, 1], [1.26665318, 1.0727777])
    assert normalized[2, 1] == 0.0  # past the episode's end


@pytest.mark.parametrize("activation", ["elu", "tanh", "relu"])
def test_policy_gradient_matches_finite_differences(activation):
    rng = np.random.default_rng(0)
    net = _PolicyNetwork([4, 6, 5, 3], activation, rng)
    x = rng.normal(size=(7, 4))
    actions = rng.integers(0, 3, size=7)
    weights = rng.normal(size=7)

    def loss():
        probs = net.forward(x)
        return -np.sum(weights * np.log(probs[np.arange(7), actions]))

    grads = net.gradients(x, actions, weights)
    for param, grad in zip(net.params, grads, strict=True):
        numeric = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            old = param[index]
            param[index] = old + 1e-6
            up = loss()
            param[index] = old - 1e-6
            down = loss()
            param[index] = old
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_learns_cartpole_and_stops_early():
    config = ReinforceConfig(hidden_sizes=(16,), target_score=475, patience=5, seed=2)
    agent = ReinforceAgent("CartPole-v1", config)
    agent.learn(300)
    assert agent.n_updates < 300  # stopped early
    assert min(agent.history["mean_score"][-5:]) >= 475
    assert agent.history["mean_score"][0] < 50
    assert evaluate(agent, "CartPole-v1", n_episodes=20, seed=123).mean() >= 475
    agent.close()


def test_shaped_cartpole_reports_the_true_score():
    agent = ReinforceAgent("ShapedCartPole-v1", ReinforceConfig(seed=0))
    agent.learn(3)
    h = agent.history
    # CartPole pays 1 per step: the true score is the length; the shaped return is lower.
    np.testing.assert_allclose(h["mean_score"], h["mean_length"])
    assert all(r < s for r, s in zip(h["mean_return"], h["mean_score"], strict=True))
    assert len(h["score"]) == 30 and all(float(s).is_integer() for s in h["score"])
    agent.close()


def test_plain_env_vector_env_and_episode_cap():
    plain = ReinforceAgent(
        gym.make("CartPole-v1"), ReinforceConfig(n_episodes_per_update=2, seed=0)
    )
    plain.learn(2)
    assert plain.vec_env.num_envs == 1 and len(plain.history["score"]) == 4

    vec = gym.make_vec("CartPole-v1", num_envs=5)
    capped = ReinforceAgent(vec, ReinforceConfig(max_episode_steps=5, seed=0))
    capped.learn(2)
    assert capped.history["mean_length"] == [5.0, 5.0]
    assert len(capped.history["score"]) == 20

    with pytest.raises(
        ValueError,
        match=re.escape(
            "ReinforceAgent: `n_episodes_per_update` (10) must be a multiple of the vector "
            "env's num_envs (3)"
        ),
    ):
        ReinforceAgent(gym.make_vec("CartPole-v1", num_envs=3))


def test_same_seed_same_training():
    a = ReinforceAgent("CartPole-v1", ReinforceConfig(seed=5)).learn(4)
    b = ReinforceAgent("CartPole-v1", ReinforceConfig(seed=5)).learn(4)
    c = ReinforceAgent("CartPole-v1", ReinforceConfig(seed=6)).learn(4)
    assert a.history == b.history and a.history != c.history
    for p, q in zip(a.network.params, b.network.params, strict=True):
        np.testing.assert_array_equal(p, q)


def test_early_stopping_and_callback_stop():
    agent = ReinforceAgent("CartPole-v1", ReinforceConfig(target_score=1.0, patience=2, seed=0))
    agent.learn(50)
    assert agent.n_updates == 2
    agent.learn(50)
    assert agent.n_updates == 4  # each call needs its own streak
    seen = []
    agent = ReinforceAgent("CartPole-v1", ReinforceConfig(seed=0))
    agent.learn(50, callback=lambda _, info: seen.append(info["iteration"]) or len(seen) < 3)
    assert seen == [1, 2, 3] and agent.n_updates == 3


def test_save_load_reproduces_predict(tmp_path):
    agent = ReinforceAgent("CartPole-v1", ReinforceConfig(hidden_sizes=(8, 8), seed=0)).learn(3)
    agent.save(tmp_path / "reinforce.npz")
    obs = np.random.default_rng(0).normal(size=(50, 4))
    loaded = ReinforceAgent.load(tmp_path / "reinforce.npz")
    np.testing.assert_array_equal(loaded.predict(obs), agent.predict(obs))
    np.testing.assert_array_equal(loaded.action_probabilities(obs), agent.action_probabilities(obs))
    assert loaded.predict(obs[0]) == agent.predict(obs[0])
    assert loaded.config == agent.config and loaded.history == agent.history
    resumed = ReinforceAgent.load(tmp_path / "reinforce.npz", env="CartPole-v1").learn(1)
    assert resumed.n_updates == 4
    with pytest.raises(ValueError, match="no env"):
        loaded.learn(1)


def test_bad_envs_and_configs_raise_clear_errors():
    with pytest.raises(
        TypeError,
        match=re.escape("ReinforceAgent: `env.observation_space` must be a Box, got Discrete(16)"),
    ):
        ReinforceAgent("FrozenLake-v1")
    with pytest.raises(
        TypeError,
        match=re.escape(
            "ReinforceAgent: `env.action_space` must be Discrete, got Box(-2.0, 2.0, (1,), float32)"
        ),
    ):
        ReinforceAgent("Pendulum-v1")
    with pytest.raises(
        TypeError,
        match="ReinforceAgent: `env` must be an env id, a gymnasium Env or VectorEnv, got int",
    ):
        ReinforceAgent(3)
    with pytest.raises(
        ValueError,
        match=re.escape("ReinforceConfig: `hidden_sizes` must be positive ints, got (0,)"),
    ):
        ReinforceConfig(hidden_sizes=(0,))
    with pytest.raises(ValueError, match="ReinforceConfig: `activation` must be one of"):
        ReinforceConfig(activation="gelu")
