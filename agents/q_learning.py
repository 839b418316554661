"""Tabular Q-learning with the book's decaying learning rate and three explorations.

- `QLearningConfig`: the hyper-parameters (defaults: the book's toy-MDP run).
- `QLearningAgent`: Q-learning on any env with Discrete observations and actions.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from gymkit.agents.base import Callback, NumpyAgent
from gymkit.common.checks import discrete_space, probability

__all__ = ["QLearningConfig", "QLearningAgent"]

_EXPLORATIONS = ("random", "epsilon_greedy", "exploration_function")


@dataclasses.dataclass(frozen=True)
class QLearningConfig:
    """Hyper-parameters of tabular Q-learning (defaults: the book's toy-MDP run).

    Attributes:
        alpha0: initial learning rate; step ``t`` (counted over all of training) uses
            ``alpha0 / (1 + t * lr_decay)``, as in the book.
        lr_decay: learning-rate decay (0 keeps ``alpha0``).
        gamma: discount factor in [0, 1].
        exploration: how actions are chosen while learning, always among the allowed
            ones: ``"random"`` (uniform, the book's run), ``"epsilon_greedy"`` (random
            with probability epsilon, else greedy) or ``"exploration_function"``
            (greedy on ``f(Q, N) = Q + kappa / (1 + N)``, ``N`` the visit count of the
            state-action pair; as in the book, the target then also uses
            ``max f(Q(s', .), N(s', .))``).
        epsilon_start: epsilon at step 0 (``"epsilon_greedy"``).
        epsilon_end: epsilon after ``epsilon_decay_steps`` steps (linear decay).
        epsilon_decay_steps: steps over which epsilon goes from start to end.
        kappa: the exploration bonus scale (``"exploration_function"``).
        record_q_history: keep a copy of the Q-table after every step in
            ``history["q_values"]`` (for the book's convergence plot).
        seed: seeds the agent's generator and the env's first ``reset``.

    Example:
        >>> config = QLearningConfig()  # the book's run
        >>> config.alpha0, config.lr_decay, config.gamma, config.exploration
        (0.05, 0.005, 0.9, 'random')
        >>> QLearningConfig(exploration="epsilon_greedy", epsilon_decay_steps=5_000).epsilon_end
        0.05
    """

    alpha0: float = 0.05
    lr_decay: float = 0.005
    gamma: float = 0.90
    exploration: Literal["random", "epsilon_greedy", "exploration_function"] = "random"
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 10_000
    kappa: float = 1.0
    record_q_history: bool = False
    seed: int | None = None

    def __post_init__(self):
        name = "QLearningConfig"
        probability(name, "alpha0", self.alpha0, open_low=True)
        probability(name, "gamma", self.gamma)
        probability(name, "epsilon_start", self.epsilon_start)
        probability(name, "epsilon_end", self.epsilon_end)
        if not self.lr_decay >= 0:
            raise ValueError(f"{name}: `lr_decay` must be >= 0, got {self.lr_decay!r}")
        if self.exploration not in _EXPLORATIONS:
            raise ValueError(
                f"{name}: `exploration` must be one of {_EXPLORATIONS}, got {self.exploration!r}"
            )
        if not self.epsilon_decay_steps >= 1:
            raise ValueError(
                f"{name}: `epsilon_decay_steps` must be >= 1, got {self.epsilon_decay_steps!r}"
            )
        if not self.kappa >= 0:
            raise ValueError(f"{name}: `kappa` must be >= 0, got {self.kappa!r}")


class QLearningAgent(NumpyAgent):
    """Tabular Q-learning that respects action masks and bootstraps through truncation.

    Each step updates ``Q(s, a) <- (1 - alpha) Q(s, a) + alpha (r + gamma max_a' Q(s', a'))``,
    the max running over the actions allowed in ``s'``. Allowed actions come from
    ``info["action_mask"]`` when the env provides it (gymkit's `TabularMDP` does),
    else every action is allowed; ``q_values`` reports ``-inf`` for actions never
    allowed in a state, like the book. A truncated episode (time limit) bootstraps
    from ``s'``; only ``terminated`` drops the ``gamma max Q(s')`` term.

    ``history`` holds ``episode_return`` and ``episode_length`` per finished episode
    and, with ``record_q_history``, ``q_values`` after every step. `learn` calls
    ``callback(agent, info)`` after each step, ``info`` holding ``step``, ``state``,
    ``action``, ``reward``, ``next_state``, ``terminated``, ``truncated`` and ``alpha``.

    Example:
        >>> import gymnasium as gym
        >>> import gymkit
        >>> from gymkit.agents import QLearningAgent, QLearningConfig
        >>> env = gym.make("ToyMDP-v0")
        >>> agent = QLearningAgent(env, QLearningConfig(seed=0)).learn(10_000)
        >>> agent.q_values.shape, agent.q_values[2, 0]
        ((3, 3), np.float64(-inf))
        >>> [agent.predict(s) for s in range(3)]  # the optimal policy
        [0, 0, 1]

    Args:
        env: a Gymnasium env with Discrete observation and action spaces.
        config: the hyper-parameters (default `QLearningConfig()`).
    """

    config_class = QLearningConfig

    def __init__(self, env: Any, config: QLearningConfig | None = None):
        super().__init__(env, config if config is not None else QLearningConfig())
        name = type(self).__name__
        obs_space = discrete_space(name, "env.observation_space", env.observation_space)
        act_space = discrete_space(name, "env.action_space", env.action_space)
        if obs_space.start != 0 or act_space.start != 0:
            raise ValueError(
                f"{name}: `env` spaces must start at 0 to index the Q-table, got "
                f"{obs_space} and {act_space}"
            )
        self._init_tables(int(obs_space.n), int(act_space.n))

    def _init_tables(self, n_states: int, n_actions: int) -> None:
        self.q_table = np.zeros((n_states, n_actions))
        self.visits = np.zeros((n_states, n_actions), dtype=np.int64)
        # Unknown masks count as "all allowed" until the env reports the state's mask.
        self.action_mask = np.ones((n_states, n_actions), dtype=bool)
        self._allowed_cache: dict[bytes | None, tuple[int, ...]] = {}
        self._state_allowed: dict[int, tuple[int, ...]] = {}
        self.num_timesteps = 0
        self.rng = np.random.default_rng(self.config.seed)
        self._obs: int | None = None
        self._episode_return = 0.0
        self._episode_length = 0
        self.history = {"episode_return": [], "episode_length": []}
        if self.config.record_q_history:
            self.history["q_values"] = []

    @property
    def q_values(self) -> np.ndarray:
        """The Q-table, ``-inf`` where the action is not allowed (shape ``(S, A)``)."""
        return np.where(self.action_mask, self.q_table, -np.inf)

    def epsilon(self, step: int | None = None) -> float:
        """Exploration rate of ``"epsilon_greedy"`` at ``step`` (default: now).

        Args:
            step: the training step; default ``num_timesteps``.
        """
        c = self.config
        t = self.num_timesteps if step is None else step
        frac = min(t / c.epsilon_decay_steps, 1.0)
        return (1 - frac) * c.epsilon_start + frac * c.epsilon_end

    def _allowed(self, mask: np.ndarray | None) -> tuple[int, ...]:
        """The allowed action indices of a mask (``None``: all), cached per distinct mask."""
        key = None if mask is None else mask.tobytes()
        allowed = self._allowed_cache.get(key)
        if allowed is None:
            n_actions = self.q_table.shape[1]
            if mask is None:
                allowed = tuple(range(n_actions))
            else:
                mask = np.asarray(mask, dtype=bool)
                if mask.shape != (n_actions,):
                    raise ValueError(
                        f"QLearningAgent: info['action_mask'] must have shape ({n_actions},), "
                        f"got {mask.shape}"
                    )
                allowed = tuple(int(a) for a in np.flatnonzero(mask))
            if not allowed:
                raise ValueError("QLearningAgent: info['action_mask'] allows no action")
            self._allowed_cache[key] = allowed
        return allowed

    def _greedy(self, values: np.ndarray, allowed: tuple[int, ...]) -> int:
        """Greedy action among ``allowed``, ties broken at random."""
        best_value = max(values[a] for a in allowed)
        best = [a for a in allowed if values[a] == best_value]
        return best[0] if len(best) == 1 else best[int(self.rng.random() * len(best))]

    def _explore(self, s: int, allowed: tuple[int, ...]) -> int:
        c = self.config
        if c.exploration == "exploration_function":
            return self._greedy(self.q_table[s] + c.kappa / (1 + self.visits[s]), allowed)
        if c.exploration == "epsilon_greedy" and self.rng.random() >= self.epsilon():
            return self._greedy(self.q_table[s], allowed)
        return allowed[int(self.rng.random() * len(allowed))]

    def _observe(self, obs: Any, info: dict) -> tuple[int, tuple[int, ...]]:
        """Record the state's mask; return the state index and its allowed actions."""
        s = int(obs)
        allowed = self._allowed(info.get("action_mask"))
        if self._state_allowed.get(s) is not allowed:  # cached tuples: identity suffices
            self._state_allowed[s] = allowed
            self.action_mask[s] = False
            self.action_mask[s, list(allowed)] = True
        return s, allowed

    def learn(
        self,
        total_timesteps: int,
        callback: Callback | None = None,
        progress_bar: bool = False,
    ) -> QLearningAgent:
        """Run ``total_timesteps`` env steps of Q-learning; a second call continues.

        Args:
            total_timesteps: number of env steps to learn from.
            callback: ``callback(agent, info)`` after each step; ``False`` stops.
            progress_bar: show a tqdm bar over steps.
        """
        env = self._require_env()
        c = self.config
        q, visits, rng = self.q_table, self.visits, self.rng
        if self._obs is None:
            self._obs, self._allowed_now = self._observe(*env.reset(seed=c.seed))
        use_bonus = c.exploration == "exploration_function"
        q_history = self.history["q_values"] if c.record_q_history else None
        with tqdm(total=total_timesteps, disable=not progress_bar, desc="Q-learning") as bar:
            for _ in range(total_timesteps):
                s, allowed = self._obs, self._allowed_now
                if c.exploration == "random":
                    a = allowed[int(rng.random() * len(allowed))]
                else:
                    a = self._explore(s, allowed)
                obs, reward, terminated, truncated, info = env.step(a)
                s2, allowed2 = self._observe(obs, info)
                reward = float(reward)
                next_state = s2

                alpha = c.alpha0 / (1 + self.num_timesteps * c.lr_decay)
                target = reward
                if not terminated:  # a truncated episode still bootstraps from s'
                    next_q = q[s2] + c.kappa / (1 + visits[s2]) if use_bonus else q[s2]
                    target += c.gamma * max(next_q[b] for b in allowed2)
                q[s, a] += alpha * (target - q[s, a])
                visits[s, a] += 1
                self.num_timesteps += 1
                self._episode_return += reward
                self._episode_length += 1
                if q_history is not None:
                    q_history.append(self.q_values)

                if terminated or truncated:
                    self.history["episode_return"].append(self._episode_return)
                    self.history["episode_length"].append(self._episode_length)
                    self._episode_return, self._episode_length = 0.0, 0
                    s2, allowed2 = self._observe(*env.reset())
                self._obs, self._allowed_now = s2, allowed2
                bar.update()
                if callback is not None:
                    step_info = {
                        "step": self.num_timesteps,
                        "state": s,
                        "action": a,
                        "reward": reward,
                        "next_state": next_state,
                        "terminated": bool(terminated),
                        "truncated": bool(truncated),
                        "alpha": alpha,
                    }
                    if callback(self, step_info) is False:
                        break
        return self

    def predict(self, obs: int | np.ndarray, action_mask: np.ndarray | None = None):
        """The greedy action among the allowed ones, for a state or an array of states.

        Args:
            obs: a state index or an integer array of them.
            action_mask: the allowed actions (``info["action_mask"]``), shape
                ``(A,)`` or ``(len(obs), A)``; default: the masks seen while learning.
        """
        mask = self.action_mask[obs] if action_mask is None else np.asarray(action_mask, bool)
        values = np.where(mask, self.q_table[obs], -np.inf)
        actions = np.argmax(values, axis=-1)
        return int(actions) if np.ndim(actions) == 0 else actions

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "q_table": self.q_table,
            "visits": self.visits,
            "action_mask": self.action_mask,
            "num_timesteps": np.array(self.num_timesteps),
        }

    @classmethod
    def _restore(cls, env, config, state):
        n_states, n_actions = state["q_table"].shape
        if env is not None:
            agent = cls(env, config)
            if agent.q_table.shape != (n_states, n_actions):
                raise ValueError(
                    f"QLearningAgent.load: the saved Q-table has shape {(n_states, n_actions)}, "
                    f"the env needs {agent.q_table.shape}"
                )
        else:
            agent = cls.__new__(cls)
            NumpyAgent.__init__(agent, None, config)
            agent._init_tables(n_states, n_actions)
        agent.q_table = state["q_table"].astype(np.float64)
        agent.visits = state["visits"].astype(np.int64)
        agent.action_mask = state["action_mask"].astype(bool)
        agent.num_timesteps = int(state["num_timesteps"])
        return agent
