"""Value iteration (Q-value iteration) on any env that publishes its model as ``P``.

- `TabularModel`: ``env.unwrapped.P`` turned, once, into dense padded numpy arrays.
- `ValueIterationConfig`: the hyper-parameters.
- `ValueIterationAgent`: vectorised Q-value iteration; gives V*, Q* and the greedy policy.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gymkit.agents.base import Callback, NumpyAgent
from gymkit.common.checks import discrete_space, probability

__all__ = ["TabularModel", "ValueIterationConfig", "ValueIterationAgent"]


@dataclasses.dataclass(frozen=True)
class TabularModel:
    """A finite MDP as padded arrays: entry ``[s, a, k]`` is the k-th outcome of ``a`` in ``s``.

    Built once from Gymnasium's toy-text convention ``env.unwrapped.P[s][a] =
    [(prob, next_state, reward, terminated), ...]``; outcomes beyond an action's
    own list are padded with probability 0. Memory is ``O(S * A * K)`` (``K`` the
    longest outcome list), not ``O(S * A * S)``.

    Example:
        >>> import gymnasium as gym
        >>> import gymkit
        >>> model = TabularModel.from_env(gym.make("ToyMDP-v0"))
        >>> model.probs.shape, model.allowed[1]
        ((3, 3, 3), array([ True, False,  True]))
        >>> model.expected_rewards().round(1)
        array([[  7.,   0.,   0.],
               [  0., -51., -50.],
               [-51.,  32., -51.]])

    Attributes:
        next_states: ``(S, A, K)`` int array of next states.
        probs: ``(S, A, K)`` probabilities (0 for padding).
        rewards: ``(S, A, K)`` rewards of each outcome.
        terminated: ``(S, A, K)`` bool, True where the outcome ends the episode (no bootstrap).
        allowed: ``(S, A)`` bool action mask: ``env.unwrapped.allowed`` where the env
            has one (`TabularMDP`), else every action.
    """

    next_states: np.ndarray
    probs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    allowed: np.ndarray

    @property
    def n_states(self) -> int:
        """Number of states."""
        return int(self.probs.shape[0])

    @property
    def n_actions(self) -> int:
        """Number of actions."""
        return int(self.probs.shape[1])

    def expected_rewards(self) -> np.ndarray:
        """``R[s, a] = sum_k p * r``: the expected immediate reward, shape ``(S, A)``."""
        return (self.probs * self.rewards).sum(axis=2)

    @classmethod
    def from_env(cls, env: Any, owner: str = "TabularModel") -> TabularModel:
        """Read ``env.unwrapped.P`` (and ``allowed`` if present) into arrays.

        Args:
            env: a Gymnasium env with Discrete spaces whose unwrapped env has ``P``.
            owner: the name used in error messages.
        """
        unwrapped = getattr(env, "unwrapped", env)
        P = getattr(unwrapped, "P", None)
        if P is None:
            raise TypeError(
                f"{owner}: `env` must expose its model as env.unwrapped.P[s][a] = "
                "[(prob, next_state, reward, terminated), ...] (like FrozenLake, Taxi, "
                f"CliffWalking or gymkit's TabularMDP), got {type(unwrapped).__name__}, "
                "which has no `P`"
            )
        obs_space = discrete_space(owner, "env.observation_space", env.observation_space)
        act_space = discrete_space(owner, "env.action_space", env.action_space)
        if obs_space.start != 0 or act_space.start != 0:
            raise ValueError(
                f"{owner}: `env` spaces must start at 0 to index `P`, got "
                f"{obs_space} and {act_space}"
            )
        n_states, n_actions = int(obs_space.n), int(act_space.n)
        if len(P) != n_states:
            raise ValueError(
                f"{owner}: `env.unwrapped.P` must hold {n_states} states like the "
                f"observation space, got {len(P)}"
            )
        try:
            width = max(len(P[s][a]) for s in range(n_states) for a in range(n_actions))
        except (KeyError, IndexError) as err:
            raise ValueError(
                f"{owner}: `env.unwrapped.P` must map every state in [0, {n_states}) and "
                f"action in [0, {n_actions}), missing {err}"
            ) from None
        shape = (n_states, n_actions, width)
        next_states = np.zeros(shape, dtype=np.int64)
        probs = np.zeros(shape)
        rewards = np.zeros(shape)
        terminated = np.zeros(shape, dtype=bool)
        for s in range(n_states):
            for a in range(n_actions):
                for k, (p, s2, r, done) in enumerate(P[s][a]):
                    next_states[s, a, k] = s2
                    probs[s, a, k] = p
                    rewards[s, a, k] = r
                    terminated[s, a, k] = done
        next_states[probs == 0] = 0  # padding must still index V safely
        if np.any((next_states < 0) | (next_states >= n_states)):
            raise ValueError(f"{owner}: `env.unwrapped.P` has next states outside [0, {n_states})")

        allowed = getattr(unwrapped, "allowed", None)
        if allowed is None:
            allowed = np.ones((n_states, n_actions), dtype=bool)
        else:
            allowed = np.asarray(allowed, dtype=bool)
            if allowed.shape != (n_states, n_actions):
                raise ValueError(
                    f"{owner}: `env.unwrapped.allowed` must have shape "
                    f"{(n_states, n_actions)}, got {allowed.shape}"
                )
        if not allowed.any(axis=1).all():
            raise ValueError(f"{owner}: every state needs an allowed action")
        totals = probs.sum(axis=2)
        bad = allowed & ~np.isclose(totals, 1.0, atol=1e-6)
        if bad.any():
            s, a = map(int, np.argwhere(bad)[0])
            raise ValueError(
                f"{owner}: `env.unwrapped.P[{s}][{a}]` probabilities must sum to 1, "
                f"got {totals[s, a]:g}"
            )
        return cls(next_states, probs, rewards, terminated, allowed)


@dataclasses.dataclass(frozen=True)
class ValueIterationConfig:
    """Hyper-parameters of value iteration.

    Attributes:
        gamma: discount factor in [0, 1] (the book uses 0.90 on the toy MDP). With
            ``gamma = 1`` iteration converges only if every policy ends episodes.
        tol: stop once no allowed Q-value changes by more than ``tol`` in a sweep.
        max_iterations: the most sweeps; ending there unconverged warns.

    Example:
        >>> ValueIterationConfig(gamma=0.99)
        ValueIterationConfig(gamma=0.99, tol=1e-08, max_iterations=100000)
    """

    gamma: float = 0.90
    tol: float = 1e-8
    max_iterations: int = 100_000

    def __post_init__(self):
        probability("ValueIterationConfig", "gamma", self.gamma)
        if not self.tol > 0:
            raise ValueError(f"ValueIterationConfig: `tol` must be > 0, got {self.tol!r}")
        if not self.max_iterations >= 1:
            raise ValueError(
                f"ValueIterationConfig: `max_iterations` must be >= 1, got {self.max_iterations!r}"
            )


class ValueIterationAgent(NumpyAgent):
    """Q-value iteration, vectorised over the whole model, for any env exposing ``P``.

    Each sweep is ``Q <- R + gamma * sum_k p_k * (1 - terminated_k) * V[s'_k]`` with
    ``V = max`` over the allowed actions, computed on arrays built from ``P`` once
    (no Python loop over states and actions). After `learn`, ``values`` is V*,
    ``q_values`` is Q* with ``-inf`` for actions the env does not allow in a state
    (``env.unwrapped.allowed``), and ``policy`` is greedy among the allowed actions.

    ``history["delta"]`` holds the largest Q change of each sweep; `learn` calls
    ``callback(agent, {"iteration": i, "delta": d})`` after each sweep.

    Example:
        >>> import gymnasium as gym
        >>> import gymkit
        >>> from gymkit.agents import ValueIterationAgent, ValueIterationConfig
        >>> env = gym.make("ToyMDP-v0")
        >>> agent = ValueIterationAgent(env, ValueIterationConfig(gamma=0.9)).learn()
        >>> agent.q_values.round(2)
        array([[18.92, 17.03, 13.62],
               [ 0.  ,  -inf, -4.88],
               [ -inf, 50.13,  -inf]])
        >>> agent.policy, agent.predict(2)
        (array([0, 0, 1]), 1)

    Args:
        env: a Gymnasium env with Discrete spaces and ``env.unwrapped.P``.
        config: the hyper-parameters (default `ValueIterationConfig()`).
    """

    config_class = ValueIterationConfig

    def __init__(self, env: Any, config: ValueIterationConfig | None = None):
        super().__init__(env, config if config is not None else ValueIterationConfig())
        self.model = TabularModel.from_env(env, owner=type(self).__name__)
        self._init_arrays(self.model.allowed)

    def _init_arrays(self, allowed: np.ndarray) -> None:
        n_states, n_actions = allowed.shape
        self.allowed = allowed
        self.q_values = np.where(allowed, 0.0, -np.inf)
        self.values = np.zeros(n_states)
        self.policy = np.argmax(self.q_values, axis=1)
        self.n_iterations = 0
        self.converged = False
        self.history = {"delta": []}

    def learn(
        self, callback: Callback | None = None, progress_bar: bool = False
    ) -> ValueIterationAgent:
        """Sweep until converged (or ``max_iterations``); returns ``self``.

        Args:
            callback: ``callback(agent, info)`` after each sweep; ``False`` stops.
            progress_bar: show a tqdm bar over sweeps.
        """
        self._require_env()
        model = self.model
        gamma, tol = self.config.gamma, self.config.tol
        reward = model.expected_rewards()
        # Weight of V[s'] in each outcome: terminal outcomes do not bootstrap.
        weight = gamma * model.probs * ~model.terminated
        allowed = model.allowed
        q = np.zeros(allowed.shape)
        values = np.zeros(model.n_states)
        self.converged = False
        with tqdm(
            total=self.config.max_iterations, disable=not progress_bar, desc="value iteration"
        ) as bar:
            for iteration in range(1, self.config.max_iterations + 1):
                q_new = reward + (weight * values[model.next_states]).sum(axis=2)
                delta = float(np.abs(q_new - q)[allowed].max())
                q = q_new
                values = np.where(allowed, q, -np.inf).max(axis=1)
                self.history["delta"].append(delta)
                self.n_iterations = iteration
                bar.update()
                if delta < tol:
                    self.converged = True
                if callback is not None:
                    self._set_solution(q, values)
                    if callback(self, {"iteration": iteration, "delta": delta}) is False:
                        break
                if self.converged:
                    break
        self._set_solution(q, values)
        if not self.converged and self.n_iterations == self.config.max_iterations:
            warnings.warn(
                f"ValueIterationAgent: not converged after {self.n_iterations} sweeps (last "
                f"change {self.history['delta'][-1]:.3g} > tol={tol:g}); with gamma=1 a "
                "policy that never ends an episode has unbounded value",
                RuntimeWarning,
                stacklevel=2,
            )
        return self

    def _set_solution(self, q: np.ndarray, values: np.ndarray) -> None:
        self.q_values = np.where(self.allowed, q, -np.inf)
        self.values = values.copy()
        self.policy = np.argmax(self.q_values, axis=1)

    def predict(self, obs: int | np.ndarray) -> int | np.ndarray:
        """The greedy action for a state (an int), or for an array of states.

        Args:
            obs: a state index or an integer array of them.
        """
        actions = self.policy[obs]
        return int(actions) if np.ndim(actions) == 0 else actions

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "q_values": self.q_values,
            "values": self.values,
            "policy": self.policy,
            "allowed": self.allowed,
            "n_iterations": np.array(self.n_iterations),
            "converged": np.array(self.converged),
        }

    @classmethod
    def _restore(cls, env, config, state):
        if env is not None:
            agent = cls(env, config)
            if agent.allowed.shape != state["allowed"].shape:
                raise ValueError(
                    f"ValueIterationAgent.load: the saved agent has {state['allowed'].shape} "
                    f"(states, actions), the env {agent.allowed.shape}"
                )
        else:
            agent = cls.__new__(cls)
            NumpyAgent.__init__(agent, None, config)
            agent.model = None
        agent._init_arrays(state["allowed"])
        agent.q_values = state["q_values"]
        agent.values = state["values"]
        agent.policy = state["policy"]
        agent.n_iterations = int(state["n_iterations"])
        agent.converged = bool(state["converged"])
        return agent
