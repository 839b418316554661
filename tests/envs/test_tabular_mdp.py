import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded

import gymkit  # noqa: F401  (registers the ids)
from gymkit.envs import TabularMDP, ToyMDP
from gymkit.envs.tabular_mdp import TOY_MDP_ALLOWED, TOY_MDP_TRANSITIONS

Q_STAR = np.array([[18.92, 17.03, 13.62], [0.00, np.nan, -4.88], [np.nan, 50.13, np.nan]])


def q_value_iteration(P, n_states, n_actions, gamma, sweeps=2000):
    """A plain loop over P, independent of gymkit's agents, to check the model itself."""
    q = np.zeros((n_states, n_actions))
    for _ in range(sweeps):
        v = q.max(axis=1)
        q = np.array(
            [
                [
                    sum(p * (r + gamma * v[s2] * (not done)) for p, s2, r, done in P[s][a])
                    for a in range(n_actions)
                ]
                for s in range(n_states)
            ]
        )
    return q


def test_toy_mdp_q_star_matches_the_book():
    env = gym.make("ToyMDP-v0")
    q = q_value_iteration(env.unwrapped.P, 3, 3, gamma=0.9)
    allowed = ~np.isnan(Q_STAR)
    np.testing.assert_allclose(q[allowed], Q_STAR[allowed], atol=1e-2)
    # impossible actions are never optimal: the greedy policy is the book's (0, 0, 1)
    assert q.argmax(axis=1).tolist() == [0, 0, 1]
    assert np.all(q[~allowed] < q.max(axis=1, keepdims=True).repeat(3, 1)[~allowed])


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99])
def test_default_penalty_never_changes_q_star_of_allowed_actions(gamma):
    penalized = q_value_iteration(ToyMDP().P, 3, 3, gamma)
    # the same MDP where impossible actions do not exist at all
    allowed = ToyMDP().allowed
    P = {s: {a: ToyMDP().P[s][a] for a in range(3) if allowed[s, a]} for s in range(3)}
    q = np.where(allowed, 0.0, -np.inf)
    for _ in range(2000):
        v = q.max(axis=1)
        for s in range(3):
            for a in P[s]:
                q[s, a] = sum(p * (r + gamma * v[s2]) for p, s2, r, _ in P[s][a])
    np.testing.assert_allclose(penalized[allowed], q[allowed], atol=1e-6)
    assert np.array_equal(penalized.argmax(axis=1), q.argmax(axis=1))


def test_model_p_has_the_toy_text_shape_and_the_book_numbers():
    P = ToyMDP().P
    assert set(P) == {0, 1, 2} and all(set(P[s]) == {0, 1, 2} for s in P)
    assert P[0][0] == [(0.7, 0, 10.0, False), (0.3, 1, 0.0, False)]
    assert P[1][2] == [(1.0, 2, -50.0, False)]
    assert P[1][1] == [(1.0, 1, -51.0, False)]  # impossible: stay, pay the penalty
    for s, acts in enumerate(TOY_MDP_ALLOWED):
        for a in acts:
            assert sum(p for p, *_ in P[s][a]) == pytest.approx(1.0)


def test_impossible_action_default_is_the_documented_no_op_with_penalty():
    env = ToyMDP()
    env.reset(seed=0)
    env.step(2)  # 0 -> 0 (0.8) or 1 (0.2); walk until in state 2 then use the impossible 0
    rng = np.random.default_rng(0)
    for _ in range(1000):
        if env.s == 2:
            break
        env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
    assert env.s == 2
    obs, reward, terminated, truncated, info = env.step(0)
    assert (obs, reward, terminated, truncated) == (2, -51.0, False, False)
    assert info["invalid_action"] == True  # noqa: E712  (a numpy bool)
    assert info["action_mask"].tolist() == [False, True, False]


def test_strict_mode_raises_on_impossible_action():
    env = ToyMDP(invalid_action="raise")
    env.reset(seed=0)
    env.step(1)  # state 0 -> 0 with certainty
    with pytest.raises(ValueError, match=re.escape("action 1 is not allowed in state")):
        env.s = 1
        env.step(1)


@pytest.mark.parametrize("action", [3, -1, 1.5, "a"])
def test_out_of_space_action_always_raises(action):
    env = ToyMDP()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the action space"):
        env.step(action)


def test_step_and_masks_before_reset_raise():
    with pytest.raises(ResetNeeded, match="call reset"):
        ToyMDP().step(0)
    with pytest.raises(ResetNeeded, match="call reset"):
        ToyMDP().action_masks()


def test_masks_on_reset_and_step_and_method_agree():
    env = gym.make("ToyMDP-v0")
    obs, info = env.reset(seed=3)
    assert info["action_mask"].dtype == bool
    rng = np.random.default_rng(3)
    for _ in range(200):
        assert np.array_equal(info["action_mask"], env.unwrapped.action_masks())
        assert np.array_equal(info["action_mask"], env.unwrapped.allowed[obs])
        obs, _, _, truncated, info = env.step(int(rng.integers(3)))
        if truncated:
            obs, info = env.reset()


def test_same_seed_same_trajectory():
    def run(seed):
        env = gym.make("ToyMDP-v0")
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [obs]
        for _ in range(500):
            obs, r, term, trunc, _ = env.step(env.action_space.sample())
            out += [obs, r]
            if term or trunc:
                out.append(env.reset()[0])
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_transition_frequencies_match_T():
    """Chi-square test of each allowed (s, a) over 60,000 seeded steps."""
    env = ToyMDP()
    env.reset(seed=12345)
    rng = np.random.default_rng(12345)
    counts = np.zeros((3, 3, 3))
    for _ in range(60_000):
        s = env.s
        a = int(rng.choice(np.flatnonzero(env.allowed[s])))
        s2 = env.step(a)[0]
        counts[s, a, s2] += 1
    T = np.array([[d if d is not None else (0, 0, 0) for d in row] for row in TOY_MDP_TRANSITIONS])
    for s, acts in enumerate(TOY_MDP_ALLOWED):
        for a in acts:
            n = counts[s, a].sum()
            assert n > 1000
            support = T[s, a] > 0
            assert counts[s, a][~support].sum() == 0
            expected = n * T[s, a][support]
            chi2 = (((counts[s, a][support] - expected) ** 2) / expected).sum()
            # 99.9% quantile of chi-square with <= 2 degrees of freedom is 13.8
            assert chi2 < 13.8, (s, a, counts[s, a], expected)


def test_render_ansi_shows_the_state():
    env = gym.make("ToyMDP-v0", render_mode="ansi")
    env.reset(seed=0)
    assert env.render().startswith("[0]")
    env.step(1)
    assert "(last action: 1)" in env.render()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(transition_probs=[[[0.5, 0.4]], [[0.0, 1.0]]], rewards=np.zeros((2, 1, 2))),
            "must sum to 1",
        ),
        (
            dict(transition_probs=[[[1.0, 0.0]], [[0.0, 1.0]]], rewards=np.zeros((2, 2, 2))),
            "`rewards` must have shape",
        ),
        (
            dict(transition_probs=[[[1.0, 0.0]], [[0.0, 1.0, 0.0]]], rewards=np.zeros((2, 1, 2))),
            "must have 2 next-state",
        ),
        (
            dict(transition_probs=[[[1.0, 0.0]], [[0.0, 1.0], None]], rewards=np.zeros((2, 1, 2))),
            "has 2 actions",
        ),
        (
            dict(
                transition_probs=[[[1.0, 0.0]], [[0.0, 1.0]]],
                rewards=np.zeros((2, 1, 2)),
                allowed_actions=[[0], [1]],
            ),
            r"allowed_actions\[1\]` holds 1",
        ),
        (
            dict(
                transition_probs=[[[1.0, 0.0]], [[0.0, 1.0]]],
                rewards=np.zeros((2, 1, 2)),
                allowed_actions=[[0]],
            ),
            "one list per state",
        ),
        (
            dict(
                transition_probs=[[[1.0, 0.0]], [[0.0, 1.0]]],
                rewards=np.zeros((2, 1, 2)),
                start_state=5,
            ),
            "`start_state` must be in",
        ),
        (
            dict(
                transition_probs=[[[1.0, 0.0]], [[0.0, 1.0]]],
                rewards=np.zeros((2, 1, 2)),
                invalid_action="ignore",
            ),
            "`invalid_action` must be one of",
        ),
        (
            dict(transition_probs=[[[-1.0, 2.0]], [[0.0, 1.0]]], rewards=np.zeros((2, 1, 2))),
            "non-negative",
        ),
        (
            dict(transition_probs=[[[1.0, 0.0]], [None]], rewards=np.zeros((2, 1, 2))),
            "state 1 allows no action",
        ),
        (
            dict(
                transition_probs=[[[1.0, 0.0]], [[0.0, 1.0]]],
                rewards=np.zeros((2, 1, 2)),
                terminal_states=[2],
            ),
            "`terminal_states` holds 2",
        ),
    ],
)
def test_bad_tables_raise_a_clear_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TabularMDP(**kwargs)


def test_terminal_states_terminate_and_p_says_so():
    env = TabularMDP(
        transition_probs=[[[0.0, 1.0]], [[0.0, 1.0]]],
        rewards=[[[0, 5]], [[0, 0]]],
        terminal_states=[1],
    )
    assert env.P[0][0] == [(1.0, 1, 5.0, True)]
    env.reset(seed=0)
    assert env.step(0)[:3] == (1, 5.0, True)


def test_start_distribution_is_sampled_from_the_env_rng():
    env = TabularMDP(
        transition_probs=np.full((3, 1, 3), 1 / 3),
        rewards=np.zeros((3, 1, 3)),
        start_state=[0.5, 0.5, 0.0],
    )
    starts = {env.reset(seed=s)[0] for s in range(50)}
    assert starts == {0, 1}
