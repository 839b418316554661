import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.wrappers import TimeLimit

import gymkit  # noqa: F401
from gymkit.agents import QLearningAgent, QLearningConfig
from gymkit.envs import TabularMDP, ToyMDP
from gymkit.envs.tabular_mdp import TOY_MDP_ALLOWED

TOY_Q_STAR = np.array([[18.92, 17.03, 13.62], [0.00, np.nan, -4.88], [np.nan, 50.13, np.nan]])
ALLOWED = ~np.isnan(TOY_Q_STAR)
OPTIMAL_POLICY = [0, 0, 1]


def _greedy(agent):
    return [agent.predict(s) for s in range(3)]


def test_book_settings_find_the_optimal_policy_for_9_of_10_seeds():
    # The book's run: alpha0=0.05, decay=0.005, gamma=0.9, 10,000 random steps (the defaults).
    # Its Q stays a few units from Q* (the decaying rate freezes Q(1, 2) near -9.7, as
    # the book's own printout shows -8.9): only the policy is asserted here; see the
    # convergence test below for the values.
    optimal = 0
    for seed in range(10):
        agent = QLearningAgent(gym.make("ToyMDP-v0"), QLearningConfig(seed=seed)).learn(10_000)
        optimal += _greedy(agent) == OPTIMAL_POLICY
        assert np.all(agent.q_values[~ALLOWED] == -np.inf)
        assert agent.visits[~ALLOWED].sum() == 0  # never took an impossible action
    assert optimal >= 9


@pytest.mark.slow
def test_learned_q_is_within_1_of_q_star_for_9_of_10_seeds():
    # 1.0 needs ~1e5 samples: the TD target of Q(2, 1) alone has a standard deviation
    # of ~17, so 10,000 random steps cannot get there with any step size.
    config = dict(alpha0=0.05, lr_decay=0.001, gamma=0.9, exploration="random")
    good = 0
    for seed in range(10):
        agent = QLearningAgent(gym.make("ToyMDP-v0"), QLearningConfig(seed=seed, **config))
        agent.learn(100_000)
        error = np.abs(agent.q_values[ALLOWED] - TOY_Q_STAR[ALLOWED]).max()
        good += error < 1.0 and _greedy(agent) == OPTIMAL_POLICY
    assert good >= 9


def test_updates_equal_the_book_loop_replayed_on_the_same_transitions():
    seen = []
    agent = QLearningAgent(gym.make("ToyMDP-v0"), QLearningConfig(seed=3))
    agent.learn(2_500, callback=lambda _, info: seen.append(info))
    # The chapter's loop, written out independently.
    q = np.full((3, 3), -np.inf)
    for state, actions in enumerate(TOY_MDP_ALLOWED):
        q[state, list(actions)] = 0.0
    for iteration, t in enumerate(seen):
        next_value = 0.0 if t["terminated"] else np.max(q[t["next_state"]])
        alpha = 0.05 / (1 + iteration * 0.005)
        q[t["state"], t["action"]] = (1 - alpha) * q[t["state"], t["action"]] + alpha * (
            t["reward"] + 0.9 * next_value
        )
    np.testing.assert_allclose(agent.q_values, q, rtol=1e-12)
    # The 100-step time limit truncates (never terminates) and the next step starts at 0.
    truncated = [i for i, t in enumerate(seen) if t["truncated"]]
    assert truncated == list(range(99, 2_500, 100))
    assert not any(t["terminated"] for t in seen)
    assert all(seen[i + 1]["state"] == 0 for i in truncated[:-1])
    assert agent.history["episode_length"] == [100] * 25


def test_truncation_bootstraps_and_termination_does_not():
    q_init = np.array([[1.0, 2.0, 3.0], [4.0, 0.0, 6.0], [0.0, 8.0, 0.0]])
    agent = QLearningAgent(TimeLimit(ToyMDP(), max_episode_steps=1), QLearningConfig(seed=0))
    agent.q_table[:] = q_init
    seen = []
    agent.learn(1, callback=lambda _, info: seen.append(info))
    (t,) = seen
    assert t["truncated"] and not t["terminated"]
    best_next = max(q_init[t["next_state"], a] for a in TOY_MDP_ALLOWED[t["next_state"]])
    expected = q_init[0, t["action"]] + 0.05 * (
        t["reward"] + 0.9 * best_next - q_init[0, t["action"]]
    )
    assert agent.q_table[0, t["action"]] == pytest.approx(expected)

    # 0 --a0--> 1 (terminal), reward 5: the target is the reward alone.
    env = TabularMDP(
        transition_probs=[[[0.0, 1.0]], [[0.0, 1.0]]],
        rewards=[[[0, 5]], [[0, 0]]],
        terminal_states=[1],
    )
    agent = QLearningAgent(env, QLearningConfig(seed=0))
    agent.q_table[1] = 100.0
    agent.learn(1)
    assert agent.q_table[0, 0] == pytest.approx(0.05 * 5.0)
    assert agent.history["episode_return"] == [5.0]


def test_epsilon_greedy_decays_and_learns_the_optimal_policy():
    config = QLearningConfig(exploration="epsilon_greedy", epsilon_decay_steps=5_000, seed=0)
    agent = QLearningAgent(gym.make("ToyMDP-v0"), config)
    assert agent.epsilon(0) == 1.0 and agent.epsilon(2_500) == pytest.approx(0.525)
    assert agent.epsilon(10**6) == 0.05
    agent.learn(10_000)
    assert _greedy(agent) == OPTIMAL_POLICY
    assert agent.visits[~ALLOWED].sum() == 0


def test_exploration_function_tries_every_allowed_action():
    config = QLearningConfig(exploration="exploration_function", kappa=50.0, seed=0)
    agent = QLearningAgent(gym.make("ToyMDP-v0"), config).learn(10_000)
    assert agent.visits[ALLOWED].min() >= 3 and agent.visits[~ALLOWED].sum() == 0
    assert _greedy(agent) == OPTIMAL_POLICY


def test_q_history_records_every_step():
    agent = QLearningAgent(gym.make("ToyMDP-v0"), QLearningConfig(record_q_history=True, seed=1))
    agent.learn(300)
    history = np.array(agent.history["q_values"])
    assert history.shape == (300, 3, 3)
    np.testing.assert_array_equal(history[-1], agent.q_values)
    # A state's mask is known once the env has shown the state; all are by step 100.
    assert np.all(history[100:, ~ALLOWED] == -np.inf)
    assert not np.array_equal(history[100], history[-1])


def test_env_without_action_mask_uses_every_action():
    env = gym.make("FrozenLake-v1", map_name="4x4")
    agent = QLearningAgent(env, QLearningConfig(gamma=0.95, seed=0)).learn(3_000)
    assert agent.action_mask.all() and agent.visits[0].min() > 0


def test_same_seed_same_result_and_learning_continues():
    a = QLearningAgent(gym.make("ToyMDP-v0"), QLearningConfig(seed=7)).learn(1_000)
    b = QLearningAgent(gym.make("ToyMDP-v0"), QLearningConfig(seed=7)).learn(400).learn(600)
    c = QLearningAgent(gym.make("ToyMDP-v0"), QLearningConfig(seed=8)).learn(1_000)
    np.testing.assert_array_equal(a.q_table, b.q_table)
    assert not np.array_equal(a.q_table, c.q_table)
    assert b.num_timesteps == 1_000


def test_save_load_reproduces_predict(tmp_path):
    agent = QLearningAgent(gym.make("ToyMDP-v0"), QLearningConfig(seed=0)).learn(2_000)
    agent.save(tmp_path / "q.npz")
    loaded = QLearningAgent.load(tmp_path / "q.npz")
    np.testing.assert_array_equal(loaded.predict(np.arange(3)), agent.predict(np.arange(3)))
    np.testing.assert_array_equal(loaded.q_values, agent.q_values)
    assert loaded.config == agent.config and loaded.history == agent.history
    resumed = QLearningAgent.load(tmp_path / "q.npz", env=gym.make("ToyMDP-v0")).learn(10)
    assert resumed.num_timesteps == 2_010


class _ContinuousActionChain(gym.Env):
    observation_space = spaces.Discrete(3)
    action_space = spaces.Box(-1.0, 1.0, (1,))


def test_bad_spaces_and_configs_raise_clear_errors():
    with pytest.raises(
        TypeError,
        match=re.escape("QLearningAgent: `env.observation_space` must be Discrete, got Box("),
    ):
        QLearningAgent(gym.make("CartPole-v1"))
    with pytest.raises(
        TypeError,
        match=re.escape(
            "QLearningAgent: `env.action_space` must be Discrete, got Box(-1.0, 1.0, (1,), float32)"
        ),
    ):
        QLearningAgent(_ContinuousActionChain())
    with pytest.raises(
        ValueError, match=re.escape("QLearningConfig: `alpha0` must be in (0, 1], got 0")
    ):
        QLearningConfig(alpha0=0)
    with pytest.raises(
        ValueError, match="QLearningConfig: `exploration` must be one of .*got 'greedy'"
    ):
        QLearningConfig(exploration="greedy")
