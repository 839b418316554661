import re
import time

import gymnasium as gym
import numpy as np
import pytest

import gymkit  # noqa: F401
from gymkit.agents import TabularModel, ValueIterationAgent, ValueIterationConfig
from gymkit.envs import TabularMDP

# The issue's Q* for ToyMDP at gamma = 0.9 (nan: impossible action).
TOY_Q_STAR = np.array([[18.92, 17.03, 13.62], [0.00, np.nan, -4.88], [np.nan, 50.13, np.nan]])


def _taxi_id() -> str:
    return "Taxi-v4" if "Taxi-v4" in gym.registry else "Taxi-v3"


def _bellman_residual(env, agent) -> float:
    """max |Q - (r + gamma V')| from P with plain loops: independent of the vectorised code."""
    P = env.unwrapped.P
    gamma = agent.config.gamma
    worst = 0.0
    for s in P:
        for a in P[s]:
            if not agent.allowed[s, a]:
                continue
            q = sum(
                p * (r + (0.0 if done else gamma * agent.values[s2])) for p, s2, r, done in P[s][a]
            )
            worst = max(worst, abs(q - agent.q_values[s, a]))
    return worst


def _policy_value(env, policy, gamma) -> np.ndarray:
    """Exact value of a deterministic policy: solve (I - gamma P_pi) V = R_pi."""
    P = env.unwrapped.P
    n = env.observation_space.n
    T, R = np.zeros((n, n)), np.zeros(n)
    for s in range(n):
        for p, s2, r, done in P[s][int(policy[s])]:
            R[s] += p * r
            if not done:
                T[s, s2] += p
    return np.linalg.solve(np.eye(n) - gamma * T, R)


def test_toy_mdp_gives_the_issue_q_star_with_impossible_actions_at_minus_inf():
    agent = ValueIterationAgent(gym.make("ToyMDP-v0"), ValueIterationConfig(gamma=0.9)).learn()
    allowed = ~np.isnan(TOY_Q_STAR)
    np.testing.assert_array_equal(agent.allowed, allowed)
    np.testing.assert_allclose(agent.q_values[allowed], TOY_Q_STAR[allowed], atol=0.005)
    assert np.all(agent.q_values[~allowed] == -np.inf)
    np.testing.assert_array_equal(agent.policy, [0, 0, 1])
    np.testing.assert_allclose(agent.values, [18.92, 0.0, 50.13], atol=0.005)
    assert agent.converged and agent.history["delta"][-1] < agent.config.tol


def test_greedy_policy_never_picks_a_disallowed_action_even_if_p_rewards_it():
    # The impossible action's self-loop pays +100 in P: only the mask keeps it out.
    env = TabularMDP(
        transition_probs=[[[0.0, 1.0], None], [[1.0, 0.0], [0.0, 1.0]]],
        rewards=[[[0, 1], [0, 0]], [[0, 0], [0, 0]]],
        allowed_actions=[[0], [0, 1]],
        invalid_action_penalty=100.0,
    )
    agent = ValueIterationAgent(env, ValueIterationConfig(gamma=0.9)).learn()
    assert agent.policy[0] == 0 and agent.q_values[0, 1] == -np.inf
    # 1/(1 - 0.81) from the 0 -> 1 -> 0 loop paying 1 every other step.
    assert agent.values[0] == pytest.approx(1 / (1 - 0.81), abs=1e-6)


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("FrozenLake-v1", {"map_name": "4x4"}),
        ("FrozenLake-v1", {"map_name": "8x8"}),
        (_taxi_id(), {}),
        ("CliffWalking-v1", {}),
    ],
)
def test_solution_satisfies_bellman_optimality_and_its_policy_attains_v_star(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    agent = ValueIterationAgent(env, ValueIterationConfig(gamma=0.95, tol=1e-10)).learn()
    assert agent.converged
    assert _bellman_residual(env, agent) < 1e-8
    assert np.allclose(agent.values, agent.q_values.max(axis=1))
    np.testing.assert_allclose(_policy_value(env, agent.policy, 0.95), agent.values, atol=1e-7)


def test_frozen_lake_8x8_solves_well_under_a_second():
    env = gym.make("FrozenLake-v1", map_name="8x8")
    start = time.perf_counter()
    agent = ValueIterationAgent(env, ValueIterationConfig(gamma=0.99)).learn()
    # Takes ~0.02 s; the bound leaves room for a loaded CI machine.
    assert time.perf_counter() - start < 1.0
    assert agent.converged and 0.3 < agent.values[0] < 0.5


def test_cliff_walking_undiscounted_start_value_is_the_13_step_path():
    agent = ValueIterationAgent(
        gym.make("CliffWalking-v1"), ValueIterationConfig(gamma=1.0)
    ).learn()
    assert agent.values[36] == -13.0
    assert agent.predict(36) == 0  # up, away from the cliff


def test_tabular_model_pads_and_flags_terminal_outcomes():
    model = TabularModel.from_env(gym.make("FrozenLake-v1", map_name="4x4"))
    assert model.probs.shape == (16, 4, 3)
    np.testing.assert_allclose(model.probs.sum(axis=2), 1.0)
    assert model.terminated[14, 2].any()  # stepping right from 14 can reach the goal


def test_env_without_p_is_rejected_with_a_clear_error():
    with pytest.raises(
        TypeError,
        match=r"ValueIterationAgent: `env` must expose its model as env\.unwrapped\.P"
        r".*got CartPoleEnv, which has no `P`",
    ):
        ValueIterationAgent(gym.make("CartPole-v1"))


def test_config_values_are_validated():
    with pytest.raises(
        ValueError, match=re.escape("ValueIterationConfig: `gamma` must be in [0, 1], got 1.5")
    ):
        ValueIterationConfig(gamma=1.5)
    with pytest.raises(ValueError, match="ValueIterationConfig: `tol` must be > 0, got 0"):
        ValueIterationConfig(tol=0)
    with pytest.raises(
        TypeError, match="ValueIterationAgent: `config` must be a ValueIterationConfig, got dict"
    ):
        ValueIterationAgent(gym.make("ToyMDP-v0"), {"gamma": 0.9})


def test_callback_sees_every_sweep_and_can_stop():
    seen = []

    def callback(agent, info):
        seen.append(info["delta"])
        return info["iteration"] < 3

    agent = ValueIterationAgent(gym.make("ToyMDP-v0")).learn(callback=callback)
    assert agent.n_iterations == 3 and len(seen) == 3 and not agent.converged
    assert seen == agent.history["delta"]


def test_unconverged_run_warns():
    config = ValueIterationConfig(gamma=0.9, max_iterations=2)
    with pytest.warns(RuntimeWarning, match="not converged after 2 sweeps"):
        ValueIterationAgent(gym.make("ToyMDP-v0"), config).learn()


def test_save_load_reproduces_predict_with_and_without_env(tmp_path):
    env = gym.make("FrozenLake-v1", map_name="8x8")
    agent = ValueIterationAgent(env, ValueIterationConfig(gamma=0.99)).learn()
    agent.save(tmp_path / "vi")
    states = np.arange(64)
    for loaded in (
        ValueIterationAgent.load(tmp_path / "vi.npz"),
        ValueIterationAgent.load(tmp_path / "vi.npz", env=env),
    ):
        np.testing.assert_array_equal(loaded.predict(states), agent.predict(states))
        np.testing.assert_array_equal(loaded.q_values, agent.q_values)
        assert loaded.config == agent.config and loaded.history == agent.history
    with pytest.raises(ValueError, match="no env"):
        ValueIterationAgent.load(tmp_path / "vi.npz").learn()
