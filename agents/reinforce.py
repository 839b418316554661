"""REINFORCE (the book's policy gradient) with a numpy policy network.

- `ReinforceConfig`: the hyper-parameters (defaults: the book's CartPole run).
- `ReinforceAgent`: plays a batch of episodes in parallel, discounts and normalises
  the returns across the batch, and takes one Adam step on the policy network.

The network is small (the book's has 5 hidden units), so it runs in numpy: one
forward pass on a batch of 10 observations took 18 us here against 40 us in torch,
whose per-call overhead dominates at this size (``benchmarks/agents_reinforce.py``
measures both), and the rollout does one per env step.
Importing this module does not import torch.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from tqdm.auto import tqdm

from gymkit.agents.base import Callback, NumpyAgent
from gymkit.common.checks import discrete_space, probability

__all__ = ["ReinforceConfig", "ReinforceAgent", "discount_and_normalize_returns"]

_ACTIVATIONS = ("elu", "tanh", "relu")


def discount_and_normalize_returns(
    rewards: np.ndarray, active: np.ndarray, gamma: float, normalize: bool = True
) -> np.ndarray:
    """Discounted returns of a batch of episodes, normalised over all their steps.

    Args:
        rewards: ``(T, N)`` rewards of ``N`` episodes played side by side (0 past an
            episode's end).
        active: ``(T, N)`` bool, True on the steps that belong to the episode.
        gamma: discount factor.
        normalize: subtract the mean and divide by the std of all active steps (the book).

    Example:
        >>> rewards = np.array([[10.0, 10.0], [0.0, 20.0], [-50.0, 0.0]])
        >>> active = np.array([[True, True], [True, True], [True, False]])
        >>> discount_and_normalize_returns(rewards, active, 0.8, normalize=False)
        array([[-22.,  26.],
               [-40.,  20.],
               [-50.,   0.]])
        >>> discount_and_normalize_returns(rewards, active, 0.8).round(4)  # the book's numbers
        array([[-0.2844,  1.2667],
               [-0.866 ,  1.0728],
               [-1.1891,  0.    ]])
    """
    rewards = np.where(active, rewards, 0.0)
    returns = np.zeros_like(rewards, dtype=np.float64)
    running = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    if normalize:
        flat = returns[active]
        std = flat.std()
        returns = (returns - flat.mean()) / (std if std > 0 else 1.0)
    return np.where(active, returns, 0.0)


@dataclasses.dataclass(frozen=True)
class ReinforceConfig:
    """Hyper-parameters of REINFORCE (defaults: the book's CartPole run).

    Attributes:
        hidden_sizes: units of each hidden layer of the policy network (book: one of 5).
        activation: hidden activation, ``"elu"`` (book), ``"tanh"`` or ``"relu"``.
        learning_rate: Adam step size (book: 0.01).
        gamma: discount factor of the returns (book: 0.95).
        n_episodes_per_update: episodes per gradient step (book: 10); played in
            parallel when the env is a vector env or an id.
        max_episode_steps: cut episodes at this length (the book used 200); ``None``
            keeps the env's own time limit.
        normalize_returns: normalise the discounted returns over the batch (book).
        target_score: early stopping: stop once the batch's mean true score
            (``info["unshaped_reward"]`` where the env reports it, else the reward)
            reaches this for ``patience`` updates in a row; ``None`` never stops early.
        patience: consecutive updates at ``target_score`` needed to stop.
        seed: seeds the network's initial weights, action sampling and the env.

    Example:
        >>> config = ReinforceConfig()  # the book's run
        >>> config.hidden_sizes, config.learning_rate, config.gamma, config.n_episodes_per_update
        ((5,), 0.01, 0.95, 10)
        >>> ReinforceConfig(target_score=475, patience=5).patience
        5
    """

    hidden_sizes: tuple[int, ...] = (5,)
    activation: Literal["elu", "tanh", "relu"] = "elu"
    learning_rate: float = 0.01
    gamma: float = 0.95
    n_episodes_per_update: int = 10
    max_episode_steps: int | None = None
    normalize_returns: bool = True
    target_score: float | None = None
    patience: int = 3
    seed: int | None = None

    def __post_init__(self):
        name = "ReinforceConfig"
        if not all(isinstance(h, int) and h >= 1 for h in self.hidden_sizes):
            raise ValueError(
                f"{name}: `hidden_sizes` must be positive ints, got {self.hidden_sizes!r}"
            )
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"{name}: `activation` must be one of {_ACTIVATIONS}, got {self.activation!r}"
            )
        if not self.learning_rate > 0:
            raise ValueError(f"{name}: `learning_rate` must be > 0, got {self.learning_rate!r}")
        probability(name, "gamma", self.gamma)
        if not self.n_episodes_per_update >= 1:
            raise ValueError(
                f"{name}: `n_episodes_per_update` must be >= 1, got {self.n_episodes_per_update!r}"
            )
        if self.max_episode_steps is not None and not self.max_episode_steps >= 1:
            raise ValueError(
                f"{name}: `max_episode_steps` must be >= 1 or None, got {self.max_episode_steps!r}"
            )
        if not self.patience >= 1:
            raise ValueError(f"{name}: `patience` must be >= 1, got {self.patience!r}")


class _PolicyNetwork:
    """A softmax MLP with hand-written backprop and Adam, all numpy (float64)."""

    def __init__(self, sizes: list[int], activation: str, rng: np.random.Generator):
        self.activation = activation
        self.params: list[np.ndarray] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            limit = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform, as Keras
            self.params += [rng.uniform(-limit, limit, (fan_in, fan_out)), np.zeros(fan_out)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def _act(self, z: np.ndarray) -> np.ndarray:
        if self.activation == "elu":
            return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
        if self.activation == "tanh":
            return np.tanh(z)
        return np.maximum(z, 0)

    def _act_grad(self, z: np.ndarray, h: np.ndarray) -> np.ndarray:
        if self.activation == "elu":
            return np.where(z > 0, 1.0, h + 1.0)
        if self.activation == "tanh":
            return 1.0 - h * h
        return (z > 0).astype(np.float64)

    def forward(self, x: np.ndarray, keep: bool = False):
        """Action probabilities ``(B, A)``; with ``keep`` also the layer values for backprop."""
        zs, hs = [], [x]
        h = x
        n_layers = len(self.params) // 2
        for i in range(n_layers):
            z = h @ self.params[2 * i] + self.params[2 * i + 1]
            if i < n_layers - 1:
                h = self._act(z)
                zs.append(z)
                hs.append(h)
            else:
                h = z
        logits = h - h.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        return (probs, zs, hs) if keep else probs

    def gradients(self, x: np.ndarray, actions: np.ndarray, weights: np.ndarray) -> list:
        """Gradient of ``-sum_i weights_i log pi(actions_i | x_i)`` w.r.t. every parameter."""
        probs, zs, hs = self.forward(x, keep=True)
        delta = probs
        delta[np.arange(len(actions)), actions] -= 1.0
        delta *= weights[:, None]
        grads: list[np.ndarray] = [None] * len(self.params)  # type: ignore[list-item]
        for i in range(len(self.params) // 2 - 1, -1, -1):
            grads[2 * i] = hs[i].T @ delta
            grads[2 * i + 1] = delta.sum(axis=0)
            if i > 0:
                delta = (delta @ self.params[2 * i].T) * self._act_grad(zs[i - 1], hs[i])
        return grads

    def adam_step(self, grads: list, lr: float, b1=0.9, b2=0.999, eps=1e-7) -> None:
        """One Adam update (Keras's defaults)."""
        self.t += 1
        corr = np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= lr * corr * m / (np.sqrt(v) + eps)


class ReinforceAgent(NumpyAgent):
    """REINFORCE on a batch of episodes, as in the book, with a numpy policy network.

    Each update plays ``n_episodes_per_update`` episodes with the stochastic policy,
    computes every step's discounted return, normalises the returns over the whole
    batch (the action advantage) and takes one Adam step on
    ``-mean(advantage * log pi(a | s))``. Episodes run side by side in a Gymnasium
    vector env: pass an id (built with ``gym.make_vec``, which picks CartPole's
    numpy-vectorised env) or a ``VectorEnv``; a plain ``Env`` plays them one by one.

    Works with the shaped CartPole (``ShapedCartPole-v1``): the policy learns from
    the shaped reward while ``history["mean_score"]`` and ``history["score"]``
    report the true score from ``info["unshaped_reward"]``. Per update the history
    also holds ``mean_return`` (the reward actually learned from) and
    ``mean_length``; `learn` calls ``callback(agent, info)`` after each update with
    those numbers. A time-limit cut ends the episode's returns (Monte Carlo
    returns cannot bootstrap; with ``gamma = 0.95`` the cut barely matters).

    Example:
        >>> import gymkit
        >>> from gymkit.agents import ReinforceAgent, ReinforceConfig
        >>> agent = ReinforceAgent("CartPole-v1", ReinforceConfig(seed=0))
        >>> agent.observation_space.shape, agent.action_space
        ((4,), Discrete(2))
        >>> _ = agent.learn(5)
        >>> len(agent.history["mean_score"])
        5
        >>> agent.predict([0.0, 0.0, 0.05, 0.0]) in (0, 1)
        True
        >>> agent.close()

    Args:
        env: an env id (``str``), a ``gym.vector.VectorEnv`` whose ``num_envs``
            divides ``n_episodes_per_update``, or a ``gym.Env``; Box observations
            and Discrete actions.
        config: the hyper-parameters (default `ReinforceConfig()`).
    """

    config_class = ReinforceConfig

    def __init__(
        self, env: str | gym.Env | gym.vector.VectorEnv, config: ReinforceConfig | None = None
    ):
        config = config if config is not None else ReinforceConfig()
        name = type(self).__name__
        self._owns_env = False
        if isinstance(env, str):
            vec_env = gym.make_vec(env, num_envs=config.n_episodes_per_update)
            self._owns_env = True
        elif isinstance(env, gym.vector.VectorEnv):
            vec_env = env
        elif isinstance(env, gym.Env):
            vec_env = gym.vector.SyncVectorEnv([lambda: env])
        else:
            raise TypeError(
                f"{name}: `env` must be an env id, a gymnasium Env or VectorEnv, "
                f"got {type(env).__name__}"
            )
        super().__init__(env, config)
        self.vec_env = vec_env
        obs_space = vec_env.single_observation_space
        if not isinstance(obs_space, spaces.Box):
            raise TypeError(f"{name}: `env.observation_space` must be a Box, got {obs_space}")
        act_space = discrete_space(name, "env.action_space", vec_env.single_action_space)
        if config.n_episodes_per_update % vec_env.num_envs:
            raise ValueError(
                f"{name}: `n_episodes_per_update` ({config.n_episodes_per_update}) must be a "
                f"multiple of the vector env's num_envs ({vec_env.num_envs})"
            )
        self._setup(obs_space, act_space)

    def _setup(self, obs_space: spaces.Box, act_space: spaces.Discrete) -> None:
        self.observation_space = obs_space
        self.action_space = act_space
        self.rng = np.random.default_rng(self.config.seed)
        sizes = [int(np.prod(obs_space.shape)), *self.config.hidden_sizes, int(act_space.n)]
        self.network = _PolicyNetwork(sizes, self.config.activation, self.rng)
        self.n_updates = 0
        self._seeded = False
        self._streak = 0
        self.history = {
            "mean_score": [],
            "mean_return": [],
            "mean_length": [],
            "score": [],
        }

    def _sample(self, probs: np.ndarray) -> np.ndarray:
        u = self.rng.random(len(probs))
        return (u[:, None] > np.cumsum(probs[:, :-1], axis=1)).sum(axis=1)

    def _play_round(self):
        """Play one episode in each sub-env; return stacked (T, N, ...) arrays."""
        venv = self.vec_env
        seed = None
        if not self._seeded:
            seed, self._seeded = self.config.seed, True
        obs, _ = venv.reset(seed=seed)
        n = venv.num_envs
        cap = self.config.max_episode_steps
        active = np.ones(n, dtype=bool)
        observations, actions, rewards, scores, actives = [], [], [], [], []
        while active.any():
            flat = np.asarray(obs, dtype=np.float64).reshape(n, -1)
            action = self._sample(self.network.forward(flat))
            obs, reward, terminated, truncated, info = venv.step(action)
            score = info.get("unshaped_reward", reward)
            if "_unshaped_reward" in info:
                score = np.where(info["_unshaped_reward"], score, reward)
            observations.append(flat)
            actions.append(action)
            rewards.append(np.asarray(reward, dtype=np.float64))
            scores.append(np.asarray(score, dtype=np.float64))
            actives.append(active)
            active = active & ~(terminated | truncated)
            if cap is not None and len(actives) >= cap:
                active = np.zeros(n, dtype=bool)
        return (
            np.stack(observations),
            np.stack(actions),
            np.stack(rewards),
            np.stack(scores),
            np.stack(actives),
        )

    def learn(
        self, n_iterations: int, callback: Callback | None = None, progress_bar: bool = False
    ) -> ReinforceAgent:
        """Run ``n_iterations`` updates (fewer if early stopping triggers); returns ``self``.

        Args:
            n_iterations: the number of policy updates, each on a fresh batch of episodes.
            callback: ``callback(agent, info)`` after each update; ``False`` stops.
            progress_bar: show a tqdm bar over updates.
        """
        c = self.config
        if self.vec_env is None:
            self._require_env()
        rounds = c.n_episodes_per_update // self.vec_env.num_envs
        self._streak = 0  # early stopping counts within one call
        with tqdm(total=n_iterations, disable=not progress_bar, desc="REINFORCE") as bar:
            for _ in range(n_iterations):
                batch = [self._play_round() for _ in range(rounds)]
                obs = np.concatenate([b[0].reshape(-1, b[0].shape[-1]) for b in batch])
                actions = np.concatenate([b[1].ravel() for b in batch])
                active = np.concatenate([b[4].ravel() for b in batch])
                advantages = np.concatenate(
                    [
                        discount_and_normalize_returns(b[2], b[4], c.gamma, False).ravel()
                        for b in batch
                    ]
                )
                if c.normalize_returns:
                    flat = advantages[active]
                    std = flat.std()
                    advantages = (advantages - flat.mean()) / (std if std > 0 else 1.0)
                # The book's loss: the mean over every step of the batch.
                weights = advantages[active] / active.sum()
                grads = self.network.gradients(obs[active], actions[active], weights)
                self.network.adam_step(grads, c.learning_rate)
                self.n_updates += 1

                scores = np.concatenate([(b[3] * b[4]).sum(axis=0) for b in batch])
                returns = np.concatenate([(b[2] * b[4]).sum(axis=0) for b in batch])
                lengths = np.concatenate([b[4].sum(axis=0) for b in batch])
                info = {
                    "iteration": self.n_updates,
                    "mean_score": float(scores.mean()),
                    "mean_return": float(returns.mean()),
                    "mean_length": float(lengths.mean()),
                }
                for key in ("mean_score", "mean_return", "mean_length"):
                    self.history[key].append(info[key])
                self.history["score"].extend(scores.tolist())
                bar.update()
                bar.set_postfix(score=f"{info['mean_score']:.1f}")
                if callback is not None and callback(self, info) is False:
                    break
                if c.target_score is not None:
                    self._streak = self._streak + 1 if info["mean_score"] >= c.target_score else 0
                    if self._streak >= c.patience:
                        break
        return self

    def action_probabilities(self, obs: Any) -> np.ndarray:
        """The policy's action probabilities for one observation or a batch.

        Args:
            obs: an observation, or a batch of them stacked on the first axis.
        """
        x = np.asarray(obs, dtype=np.float64)
        single = x.shape == self.observation_space.shape
        probs = self.network.forward(x.reshape(1 if single else len(x), -1))
        return probs[0] if single else probs

    def predict(self, obs: Any, deterministic: bool = True) -> int | np.ndarray:
        """The most probable action (or a sampled one), for one observation or a batch.

        Args:
            obs: an observation, or a batch of them stacked on the first axis.
            deterministic: take the most probable action; ``False`` samples it.
        """
        probs = self.action_probabilities(obs)
        batch = np.atleast_2d(probs)
        actions = batch.argmax(axis=1) if deterministic else self._sample(batch)
        return int(actions[0]) if probs.ndim == 1 else actions

    def close(self) -> None:
        """Close the vector env if the agent built it from an id."""
        if self._owns_env and self.vec_env is not None:
            self.vec_env.close()

    def _state_arrays(self) -> dict[str, np.ndarray]:
        net = self.network
        arrays = {f"param_{i}": p for i, p in enumerate(net.params)}
        arrays.update({f"adam_m_{i}": m for i, m in enumerate(net.m)})
        arrays.update({f"adam_v_{i}": v for i, v in enumerate(net.v)})
        arrays["adam_t"] = np.array(net.t)
        arrays["n_updates"] = np.array(self.n_updates)
        arrays["obs_low"] = self.observation_space.low
        arrays["obs_high"] = self.observation_space.high
        arrays["n_actions"] = np.array(self.action_space.n)
        return arrays

    @classmethod
    def _restore(cls, env, config, state):
        if env is not None:
            agent = cls(env, config)
        else:
            agent = cls.__new__(cls)
            NumpyAgent.__init__(agent, None, config)
            agent.vec_env, agent._owns_env = None, False
            obs_space = spaces.Box(state["obs_low"], state["obs_high"], dtype=np.float64)
            agent._setup(obs_space, spaces.Discrete(int(state["n_actions"])))
        net = agent.network
        n = len(net.params)
        if any(agent.network.params[i].shape != state[f"param_{i}"].shape for i in range(n)):
            raise ValueError("ReinforceAgent.load: the saved network does not fit the env's spaces")
        net.params = [state[f"param_{i}"].astype(np.float64) for i in range(n)]
        net.m = [state[f"adam_m_{i}"].astype(np.float64) for i in range(n)]
        net.v = [state[f"adam_v_{i}"].astype(np.float64) for i in range(n)]
        net.t = int(state["adam_t"])
        agent.n_updates = int(state["n_updates"])
        return agent
