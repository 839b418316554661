"""DQN through stable-baselines3, with the book's variants: double DQN and a dueling head.

- `DQNConfig`: the hyper-parameters, with presets `DQNConfig.cartpole`,
  `DQNConfig.atari_book` and `DQNConfig.rl_zoo_cartpole` (the comparison anchor).
- `DQNAgent`: gymkit's agent shape (learn/predict/save/load/history) over SB3.
- `GymkitDQN`: SB3's ``DQN`` whose ``train()`` computes the double-DQN target on
  request (``compute_target``), with an MSE or Huber loss, epsilon decayed over an
  absolute number of steps, and randomness from its own generators.
- `DuelingQNetwork`, `DuelingDQNPolicy`, `DuelingCnnPolicy`: the dueling head
  ``Q = V + A - mean(A)`` (or ``- max(A)``, the book's form) for SB3's DQN.
- `SeededReplayBuffer`: SB3's replay buffer sampling from its own generator.

This module imports torch and stable-baselines3; ``gymkit.agents`` loads it only
when one of these names is first used.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import DQN
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import NatureCNN, create_mlp
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from gymkit.agents.base import Callback, config_from_json, config_to_json
from gymkit.agents.evaluation import evaluate
from gymkit.common.checks import probability

__all__ = [
    "DQNConfig",
    "DQNAgent",
    "GymkitDQN",
    "DuelingQNetwork",
    "DuelingDQNPolicy",
    "DuelingCnnPolicy",
    "SeededReplayBuffer",
]

_ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh}
_OPTIMIZERS = {"adam": th.optim.Adam, "rmsprop": th.optim.RMSprop}
_AGGREGATIONS = ("mean", "max")


# --------------------------------------------------------------------------- dueling head
class DuelingHead(nn.Module):
    """Maps features to Q-values through a shared MLP and separate V and A streams.

    Args:
        features_dim: size of the input features.
        n_actions: number of actions.
        net_arch: hidden layer sizes of the shared MLP (may be empty).
        activation_fn: activation of the shared MLP.
        aggregation: ``"mean"`` (Wang et al., 2016) or ``"max"`` (the book) is
            subtracted from the advantages so that V is identifiable.
    """

    def __init__(
        self,
        features_dim: int,
        n_actions: int,
        net_arch: list[int],
        activation_fn: type[nn.Module],
        aggregation: str = "mean",
    ):
        super().__init__()
        if aggregation not in _AGGREGATIONS:
            raise ValueError(
                f"DuelingHead: `aggregation` must be one of {_AGGREGATIONS}, got {aggregation!r}"
            )
        self.aggregation = aggregation
        self.trunk = nn.Sequential(*create_mlp(features_dim, -1, net_arch, activation_fn))
        last = net_arch[-1] if net_arch else features_dim
        self.value = nn.Linear(last, 1)
        self.advantage = nn.Linear(last, n_actions)

    def forward(self, features: th.Tensor) -> th.Tensor:
        """Q-values ``(batch, n_actions)``."""
        hidden = self.trunk(features)
        advantages = self.advantage(hidden)
        if self.aggregation == "mean":
            baseline = advantages.mean(dim=1, keepdim=True)
        else:
            baseline = advantages.max(dim=1, keepdim=True).values
        return self.value(hidden) + advantages - baseline


class DuelingQNetwork(QNetwork):
    """SB3's ``QNetwork`` with a dueling head: ``Q(s, a) = V(s) + A(s, a) - agg_a A(s, a)``.

    Same features extractor, ``net_arch`` (now the shared trunk), ``forward`` and
    greedy ``_predict`` as SB3's; only ``q_net`` becomes a `DuelingHead`.

    Example:
        >>> import torch
        >>> from gymnasium import spaces
        >>> from stable_baselines3.common.torch_layers import FlattenExtractor
        >>> from gymkit.agents.dqn import DuelingQNetwork
        >>> obs_space, act_space = spaces.Box(-1, 1, (4,)), spaces.Discrete(2)
        >>> net = DuelingQNetwork(obs_space, act_space, FlattenExtractor(obs_space), 4,
        ...                       net_arch=[8], aggregation="max")
        >>> q = net(torch.zeros(3, 4))
        >>> v = net.q_net.value(net.q_net.trunk(torch.zeros(3, 4)))
        >>> q.shape, torch.allclose(q.max(dim=1, keepdim=True).values, v)  # "max": V = max Q
        (torch.Size([3, 2]), True)

    Args:
        observation_space: the observation space.
        action_space: the Discrete action space.
        features_extractor: the features extractor (as SB3 builds it).
        features_dim: its output size.
        net_arch: hidden sizes of the shared trunk (default ``[64, 64]``).
        activation_fn: the trunk's activation.
        normalize_images: divide image observations by 255.
        aggregation: ``"mean"`` or ``"max"`` (the book's), see `DuelingHead`.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        features_extractor: nn.Module,
        features_dim: int,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        aggregation: str = "mean",
    ):
        super().__init__(
            observation_space,
            action_space,
            features_extractor,
            features_dim,
            net_arch,
            activation_fn,
            normalize_images,
        )
        self.aggregation = aggregation
        self.q_net = DuelingHead(
            features_dim, int(action_space.n), self.net_arch, activation_fn, aggregation
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["aggregation"] = self.aggregation
        return data


class DuelingDQNPolicy(DQNPolicy):
    """SB3's DQN policy whose online and target networks are `DuelingQNetwork`s.

    Example:
        >>> import gymnasium as gym
        >>> from gymkit.agents.dqn import DuelingDQNPolicy, GymkitDQN
        >>> model = GymkitDQN(DuelingDQNPolicy, gym.make("CartPole-v1"),
        ...                   policy_kwargs=dict(aggregation="max"))
        >>> type(model.q_net).__name__, model.q_net.aggregation
        ('DuelingQNetwork', 'max')

    Args:
        observation_space: the observation space.
        action_space: the Discrete action space.
        lr_schedule: the learning-rate schedule (SB3 passes it).
        aggregation: ``"mean"`` or ``"max"``, see `DuelingHead`.
        **kwargs: the rest of ``DQNPolicy``'s arguments (``net_arch``, ...).
    """

    def __init__(self, observation_space, action_space, lr_schedule, aggregation="mean", **kwargs):
        if aggregation not in _AGGREGATIONS:
            raise ValueError(
                f"DuelingDQNPolicy: `aggregation` must be one of {_AGGREGATIONS}, "
                f"got {aggregation!r}"
            )
        self.aggregation = aggregation
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def make_q_net(self) -> DuelingQNetwork:
        """Build a dueling Q-network (with its own features extractor)."""
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return DuelingQNetwork(**net_args, aggregation=self.aggregation).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["aggregation"] = self.aggregation
        return data


class DuelingCnnPolicy(DuelingDQNPolicy):
    """`DuelingDQNPolicy` over SB3's Nature CNN (image observations).

    Example:
        >>> import numpy as np
        >>> from gymnasium import spaces
        >>> from gymkit.agents.dqn import DuelingCnnPolicy
        >>> obs_space = spaces.Box(0, 255, (4, 84, 84), np.uint8)
        >>> policy = DuelingCnnPolicy(obs_space, spaces.Discrete(4), lambda _: 1e-4)
        >>> type(policy.q_net.features_extractor).__name__, policy.q_net.q_net.advantage
        ('NatureCNN', Linear(in_features=512, out_features=4, bias=True))

    Args:
        observation_space: an image space (channels first or last).
        action_space: the Discrete action space.
        lr_schedule: the learning-rate schedule (SB3 passes it).
        **kwargs: the rest of `DuelingDQNPolicy`'s arguments.
    """

    def __init__(self, observation_space, action_space, lr_schedule, **kwargs):
        kwargs.setdefault("features_extractor_class", NatureCNN)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)


# --------------------------------------------------------------------------- replay buffer
class SeededReplayBuffer(ReplayBuffer):
    """SB3's ``ReplayBuffer`` drawing its samples from its own ``np.random.Generator``.

    SB3's buffer samples slots and env columns with numpy's global generator; this
    one draws both from ``seed``'s generator and never touches the global one.

    Example:
        >>> import numpy as np
        >>> from gymnasium import spaces
        >>> from gymkit.agents.dqn import SeededReplayBuffer
        >>> buf = SeededReplayBuffer(10, spaces.Box(-1, 1, (2,)), spaces.Discrete(2), seed=0)
        >>> for i in range(5):
        ...     buf.add(np.full((1, 2), i / 10), np.zeros((1, 2)), np.array([[i % 2]]),
        ...             np.array([1.0]), np.array([False]), [{}])
        >>> buf.sample(3).rewards.shape
        torch.Size([3, 1])

    Args:
        buffer_size: capacity in transitions (per env).
        observation_space: the observation space.
        action_space: the action space.
        seed: seeds the sampling generator.
        **kwargs: the rest of ``ReplayBuffer``'s arguments.
    """

    def __init__(self, buffer_size, observation_space, action_space, seed=None, **kwargs):
        super().__init__(buffer_size, observation_space, action_space, **kwargs)
        self.rng = np.random.default_rng(seed)

    def sample(self, batch_size: int, env=None) -> ReplayBufferSamples:
        """Sample ``batch_size`` transitions uniformly (never the slot being overwritten)."""
        if self.optimize_memory_usage:
            # One array holds obs and next obs: slot `pos` pairs an old obs with a new one.
            if self.full:
                inds = (self.rng.integers(1, self.buffer_size, size=batch_size) + self.pos) % (
                    self.buffer_size
                )
            else:
                inds = self.rng.integers(0, self.pos, size=batch_size)
        else:
            upper = self.buffer_size if self.full else self.pos
            inds = self.rng.integers(0, upper, size=batch_size)
        return self._get_samples(inds, env=env)

    def _get_samples(self, batch_inds: np.ndarray, env=None) -> ReplayBufferSamples:
        # SB3's own, with the env column drawn from `self.rng`.
        env_inds = self.rng.integers(0, self.n_envs, size=len(batch_inds))
        if self.optimize_memory_usage:
            next_obs = self.observations[(batch_inds + 1) % self.buffer_size, env_inds, :]
        else:
            next_obs = self.next_observations[batch_inds, env_inds, :]
        dones = self.dones[batch_inds, env_inds] * (1 - self.timeouts[batch_inds, env_inds])
        data = (
            self._normalize_obs(self.observations[batch_inds, env_inds, :], env),
            self.actions[batch_inds, env_inds, :],
            self._normalize_obs(next_obs, env),
            dones.reshape(-1, 1),
            self._normalize_reward(self.rewards[batch_inds, env_inds].reshape(-1, 1), env),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))


# --------------------------------------------------------------------------- the algorithm
class GymkitDQN(DQN):
    """SB3's DQN with the book's double-DQN target, a choice of loss and seeded randomness.

    ``train()`` is SB3's, except that the TD target comes from `compute_target`:
    ``r + gamma (1 - done) Q_target(s', argmax_a Q_online(s', a))`` with
    ``double_q`` (van Hasselt et al., 2016), else SB3's
    ``r + gamma (1 - done) max_a Q_target(s', a)``; the loss is Huber (SB3's) or
    MSE (the book's CartPole); ``max_grad_norm=inf`` turns clipping off.
    With ``exploration_steps`` epsilon falls linearly from its initial to its final
    value over that many env steps, however long ``learn`` runs (the book's
    schedule), instead of over a fraction of each ``learn`` call.

    ``seed`` seeds the network's initial weights (inside ``torch.random.fork_rng``),
    the replay buffer's sampling, epsilon-greedy exploration and the env's first
    reset, each from its own generator: numpy's, torch's and Python's global
    generators are never seeded.

    Example:
        >>> import gymnasium as gym
        >>> from gymkit.agents.dqn import GymkitDQN
        >>> model = GymkitDQN("MlpPolicy", gym.make("CartPole-v1"), double_q=True, seed=0,
        ...                   learning_starts=50)
        >>> _ = model.learn(100)
        >>> model.double_q, model.num_timesteps
        (True, 100)

    Args:
        policy: an SB3 DQN policy (``"MlpPolicy"``, ``"CnnPolicy"``, `DuelingDQNPolicy`, ...).
        env: the env (Gymnasium env, SB3 VecEnv or id).
        double_q: use the double-DQN target.
        loss: ``"huber"`` or ``"mse"``.
        exploration_steps: env steps over which epsilon decays (``None``: SB3's
            ``exploration_fraction`` of each ``learn`` call).
        seed: seeds the agent's own generators (see above).
        **kwargs: the rest of SB3 ``DQN``'s arguments (not ``seed``'s global seeding).
    """

    def __init__(
        self,
        policy: Any,
        env: Any,
        double_q: bool = False,
        loss: Literal["huber", "mse"] = "huber",
        exploration_steps: int | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ):
        if loss not in ("huber", "mse"):
            raise ValueError(f"GymkitDQN: `loss` must be 'huber' or 'mse', got {loss!r}")
        self.double_q = bool(double_q)
        self.loss = loss
        self.exploration_steps = exploration_steps
        self.rng_seed = seed
        seeds = np.random.SeedSequence(seed).generate_state(4) if seed is not None else [None] * 4
        self._torch_seed, buffer_seed, explore_seed, self._env_seed = (
            None if s is None else int(s) for s in seeds
        )
        self._explore_rng = np.random.default_rng(explore_seed)
        if kwargs.get("replay_buffer_class") is None and kwargs.get("n_steps", 1) == 1:
            kwargs["replay_buffer_class"] = SeededReplayBuffer
            kwargs["replay_buffer_kwargs"] = {
                "seed": buffer_seed,
                **(kwargs.get("replay_buffer_kwargs") or {}),
            }
        super().__init__(policy, env, seed=None, **kwargs)
        if seed is not None:
            self.action_space.seed(self._env_seed)
            if self.env is not None:
                self.env.seed(self._env_seed)

    def _setup_model(self) -> None:
        # Weights are initialised from torch's generator: fork it so that a seed
        # gives the same network without reseeding the caller's global state.
        with th.random.fork_rng(devices=[]):
            if self._torch_seed is not None:
                th.manual_seed(self._torch_seed)
            super()._setup_model()
        self.policy.set_training_mode(False)  # `predict` relies on it

    def _on_step(self) -> None:
        super()._on_step()
        if self.exploration_steps is not None:
            frac = min(self.num_timesteps / self.exploration_steps, 1.0)
            start, end = self.exploration_initial_eps, self.exploration_final_eps
            self.exploration_rate = (1 - frac) * start + frac * end
            self.logger.record("rollout/exploration_rate", self.exploration_rate)

    @th.no_grad()
    def compute_target(self, replay_data: ReplayBufferSamples) -> th.Tensor:
        """The TD target ``(batch, 1)`` of a batch of transitions (double or plain DQN).

        Args:
            replay_data: the sampled transitions.
        """
        discounts = getattr(replay_data, "discounts", None)
        if discounts is None:
            discounts = self.gamma
        next_q_target = self.q_net_target(replay_data.next_observations)
        if self.double_q:
            # The online network picks the action, the target network scores it.
            next_actions = self.q_net(replay_data.next_observations).argmax(dim=1, keepdim=True)
            next_q = next_q_target.gather(1, next_actions)
        else:
            next_q = next_q_target.max(dim=1, keepdim=True).values
        return replay_data.rewards + (1 - replay_data.dones) * discounts * next_q

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        """SB3's DQN update, with `compute_target` and the configured loss."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        loss_fn = F.smooth_l1_loss if self.loss == "huber" else F.mse_loss
        losses = []
        for _ in range(gradient_steps):
            replay_data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)
            target_q = self.compute_target(replay_data)
            current_q = th.gather(
                self.q_net(replay_data.observations), dim=1, index=replay_data.actions.long()
            )
            loss = loss_fn(current_q, target_q)
            losses.append(loss.item())
            self.policy.optimizer.zero_grad()
            loss.backward()
            if math.isfinite(self.max_grad_norm):
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self.policy.set_training_mode(False)  # `predict` relies on it
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", np.mean(losses))

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        """SB3's epsilon-greedy ``predict``, drawing from the agent's own generator.

        The greedy branch skips SB3's per-call ``set_training_mode(False)`` (a
        recursive walk over the modules on every env step): `train` leaves the
        network in evaluation mode instead.
        """
        if not deterministic and self._explore_rng.random() < self.exploration_rate:
            if self.policy.is_vectorized_observation(observation):
                n_batch = len(observation)
                action = np.array([self.action_space.sample() for _ in range(n_batch)])
            else:
                action = np.array(self.action_space.sample())
            return action, state
        obs_tensor, vectorized = self.policy.obs_to_tensor(observation)
        with th.no_grad():
            actions = self.q_net._predict(obs_tensor).cpu().numpy()
        return (actions if vectorized else actions[0]), state


# --------------------------------------------------------------------------- config
@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """Hyper-parameters of `DQNAgent`; see the presets `cartpole`, `atari_book`, `rl_zoo_cartpole`.

    Attributes:
        policy: ``"mlp"`` (vector observations) or ``"cnn"`` (SB3's Nature CNN over images).
        net_arch: hidden layers after the features (for ``"cnn"``: after the CNN's 512 units).
        activation: ``"relu"``, ``"elu"`` (the book's CartPole) or ``"tanh"``.
        double_q: the double-DQN target (the book's variant).
        dueling: the dueling head (the book's variant).
        dueling_aggregation: ``"mean"`` (Wang et al.) or ``"max"`` (the book).
        learning_rate: optimizer step size.
        optimizer: ``"adam"`` or ``"rmsprop"``.
        optimizer_kwargs: extra optimizer arguments, e.g. RMSprop's ``alpha``, ``eps``,
            ``centered`` (torch names).
        loss: ``"huber"`` or ``"mse"``.
        buffer_size: replay buffer capacity (transitions).
        optimize_memory_usage: store each observation once (SB3's memory-saving buffer).
        learning_starts: random-policy steps collected before training.
        batch_size: transitions per gradient step.
        gamma: discount factor.
        train_freq: env steps between training rounds.
        gradient_steps: gradient steps per training round.
        target_update_interval: env steps between target-network copies.
        exploration_initial_eps: epsilon at the start.
        exploration_final_eps: epsilon after ``exploration_steps``.
        exploration_steps: env steps of the linear epsilon decay.
        max_grad_norm: gradient-norm clip; ``math.inf`` turns it off.
        eval_freq: every this many env steps, play ``eval_episodes`` greedy episodes
            (0: never); results go to ``history["eval_step"]`` / ``["eval_mean"]``.
        eval_episodes: episodes per evaluation.
        target_score: stop `DQNAgent.learn` once an evaluation's mean score reaches this
            (needs ``eval_freq``); ``None`` trains for the full budget.
        device: torch device (``"auto"``: CUDA if available).
        seed: seeds the network, the buffer's sampling, exploration and the env.

    Example:
        >>> from gymkit.agents import DQNConfig
        >>> config = DQNConfig.cartpole(dueling=True, seed=0)
        >>> config.double_q, config.dueling, config.net_arch, config.target_score
        (True, True, (64, 64), 500.0)
        >>> DQNConfig.atari_book().optimizer_kwargs
        {'alpha': 0.95, 'eps': 1e-05, 'momentum': 0.0, 'centered': True}
    """

    policy: Literal["mlp", "cnn"] = "mlp"
    net_arch: tuple[int, ...] = (64, 64)
    activation: Literal["relu", "elu", "tanh"] = "relu"
    double_q: bool = False
    dueling: bool = False
    dueling_aggregation: Literal["mean", "max"] = "mean"
    learning_rate: float = 1e-3
    optimizer: Literal["adam", "rmsprop"] = "adam"
    optimizer_kwargs: dict | None = None
    loss: Literal["huber", "mse"] = "huber"
    buffer_size: int = 50_000
    optimize_memory_usage: bool = False
    learning_starts: int = 1_000
    batch_size: int = 64
    gamma: float = 0.99
    train_freq: int = 4
    gradient_steps: int = 1
    target_update_interval: int = 1_000
    exploration_initial_eps: float = 1.0
    exploration_final_eps: float = 0.05
    exploration_steps: int = 10_000
    max_grad_norm: float = 10.0
    eval_freq: int = 0
    eval_episodes: int = 10
    target_score: float | None = None
    device: str = "auto"
    seed: int | None = None

    def __post_init__(self):
        name = "DQNConfig"
        choices = {
            "policy": ("mlp", "cnn"),
            "activation": tuple(_ACTIVATIONS),
            "dueling_aggregation": _AGGREGATIONS,
            "optimizer": tuple(_OPTIMIZERS),
            "loss": ("huber", "mse"),
        }
        for field, allowed in choices.items():
            if getattr(self, field) not in allowed:
                raise ValueError(
                    f"{name}: `{field}` must be one of {allowed}, got {getattr(self, field)!r}"
                )
        if not all(isinstance(h, int) and h >= 1 for h in self.net_arch):
            raise ValueError(f"{name}: `net_arch` must be positive ints, got {self.net_arch!r}")
        probability(name, "gamma", self.gamma)
        probability(name, "exploration_initial_eps", self.exploration_initial_eps)
        probability(name, "exploration_final_eps", self.exploration_final_eps)
        positive = (
            "buffer_size", "batch_size", "train_freq", "gradient_steps",
            "target_update_interval", "exploration_steps", "eval_episodes",
        )  # fmt: skip
        for field in positive:
            if not getattr(self, field) >= 1:
                raise ValueError(f"{name}: `{field}` must be >= 1, got {getattr(self, field)!r}")
        for field in ("learning_starts", "eval_freq"):
            if not getattr(self, field) >= 0:
                raise ValueError(f"{name}: `{field}` must be >= 0, got {getattr(self, field)!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"{name}: `learning_rate` must be > 0, got {self.learning_rate!r}")
        if not self.max_grad_norm > 0:
            raise ValueError(f"{name}: `max_grad_norm` must be > 0, got {self.max_grad_norm!r}")
        if self.target_score is not None and self.eval_freq == 0:
            raise ValueError(f"{name}: `target_score` needs `eval_freq` > 0 to evaluate")

    @classmethod
    def cartpole(cls, **overrides: Any) -> DQNConfig:
        """Gymkit's CartPole-v1 settings, measured in ``benchmarks/agents_dqn.py``.

        Double DQN with the zoo's tuned schedule (Adam 2.3e-3; 128 gradient steps on batches of 64
        after every 256 env steps; target copied every 10 env steps, i.e. once per
        training round; epsilon 1 -> 0.04 over 8,000 steps) on a 64-64 MLP instead
        of 256-256, without gradient clipping (Huber already bounds the gradient;
        clipping cost a third of each update), and stopping early once a greedy
        evaluation of 20 episodes scores the maximum (500) — DQN on CartPole tends
        to forget a solved policy if trained on.

        Args:
            **overrides: fields to change.
        """
        settings: dict[str, Any] = dict(
            policy="mlp",
            net_arch=(64, 64),
            double_q=True,
            learning_rate=2.3e-3,
            buffer_size=100_000,
            learning_starts=1_000,
            batch_size=64,
            gamma=0.99,
            train_freq=256,
            gradient_steps=128,
            target_update_interval=10,
            exploration_final_eps=0.04,
            exploration_steps=8_000,
            max_grad_norm=math.inf,
            eval_freq=2_500,
            eval_episodes=20,
            target_score=500.0,
            device="cpu",
        )
        return cls(**{**settings, **overrides})

    @classmethod
    def rl_zoo_cartpole(cls, **overrides: Any) -> DQNConfig:
        """RL Baselines3 Zoo's DQN CartPole-v1 settings (5e4 steps), the comparison anchor.

        Args:
            **overrides: fields to change.
        """
        settings: dict[str, Any] = dict(
            policy="mlp",
            net_arch=(256, 256),
            learning_rate=2.3e-3,
            batch_size=64,
            buffer_size=100_000,
            learning_starts=1_000,
            gamma=0.99,
            target_update_interval=10,
            train_freq=256,
            gradient_steps=128,
            exploration_final_eps=0.04,
            exploration_steps=8_000,  # the zoo's exploration_fraction 0.16 of 5e4 steps
            device="cpu",
        )
        return cls(**{**settings, **overrides})

    @classmethod
    def atari_book(cls, **overrides: Any) -> DQNConfig:
        """The book's Atari (Breakout) DQN: Nature CNN, RMSprop, the 2015 paper's schedule.

        From the chapter: RMSprop (lr 1.5e-4 as the notes give it; the Nature paper
        used 2.5e-4), rho 0.95, epsilon 1e-5, centered, no momentum; Huber loss;
        gamma 0.99; one training step every 4 env steps on batches of 64; the target
        network copied every 2,000 training steps (8,000 env steps); epsilon from 1
        to 0.01 over 250,000 env steps; 20,000 random warm-up steps. Two departures:
        the replay buffer holds 100,000 transitions with SB3's memory-saving layout
        (the book's 1,000,000 frame stacks need ~28 GB in SB3's buffer; pass
        ``buffer_size=1_000_000`` to reproduce it), and SB3 clips gradients at norm
        10 unless told otherwise (the book does not clip: ``max_grad_norm=inf``).
        The env is the caller's, e.g. ``gymkit.wrappers.make_atari(game)``.

        Args:
            **overrides: fields to change.
        """
        settings: dict[str, Any] = dict(
            policy="cnn",
            net_arch=(),
            learning_rate=1.5e-4,
            optimizer="rmsprop",
            optimizer_kwargs={"alpha": 0.95, "eps": 1e-5, "momentum": 0.0, "centered": True},
            loss="huber",
            buffer_size=100_000,
            optimize_memory_usage=True,
            learning_starts=20_000,
            batch_size=64,
            gamma=0.99,
            train_freq=4,
            gradient_steps=1,
            target_update_interval=8_000,
            exploration_initial_eps=1.0,
            exploration_final_eps=0.01,
            exploration_steps=250_000,
            max_grad_norm=math.inf,
        )
        return cls(**{**settings, **overrides})


# --------------------------------------------------------------------------- callbacks
class _AgentCallback(BaseCallback):
    """Keeps the history, the progress bar, evaluations and the user's callback in step."""

    def __init__(self, agent: DQNAgent, total, callback, progress_bar, eval_env):
        super().__init__()
        self.agent = agent
        self.total = total
        self.user_callback = callback
        self.show_bar = progress_bar
        self.eval_env = eval_env
        self.bar = None
        self.next_eval = None

    def _on_training_start(self) -> None:
        n_envs = self.training_env.num_envs
        self.returns = np.zeros(n_envs)
        self.scores = np.zeros(n_envs)
        self.lengths = np.zeros(n_envs, dtype=np.int64)
        freq = self.agent.config.eval_freq
        self.next_eval = self.num_timesteps + freq if freq else None
        self.bar = tqdm(total=self.total, disable=not self.show_bar, desc="DQN")

    def _on_step(self) -> bool:
        history = self.agent.history
        rewards, dones, infos = self.locals["rewards"], self.locals["dones"], self.locals["infos"]
        for i, info in enumerate(infos):
            self.returns[i] += rewards[i]
            self.scores[i] += info.get("unshaped_reward", rewards[i])
            self.lengths[i] += 1
            if dones[i]:
                history["episode_return"].append(float(self.returns[i]))
                history["episode_score"].append(float(self.scores[i]))
                history["episode_length"].append(int(self.lengths[i]))
                history["episode_end_step"].append(int(self.num_timesteps))
                self.returns[i] = self.scores[i] = self.lengths[i] = 0
        self.bar.update(self.training_env.num_envs)
        keep_going = True
        if self.next_eval is not None and self.num_timesteps >= self.next_eval:
            config = self.agent.config
            self.next_eval += config.eval_freq
            # Evaluation episodes seeded from the config: same seed, same early stop.
            seed = None
            if config.seed is not None:
                entropy = [config.seed, len(self.agent.history["eval_step"])]
                seed = int(np.random.SeedSequence(entropy).generate_state(1)[0])
            scores = evaluate(self.agent, self.eval_env, config.eval_episodes, seed=seed)
            history["eval_step"].append(int(self.num_timesteps))
            history["eval_mean"].append(float(scores.mean()))
            self.bar.set_postfix(eval=f"{scores.mean():.1f}")
            target = config.target_score
            if target is not None and scores.mean() >= target:
                keep_going = False
        if self.user_callback is not None:
            info = {
                "step": int(self.num_timesteps),
                "exploration_rate": self.model.exploration_rate,
            }
            if self.user_callback(self.agent, info) is False:
                keep_going = False
        return keep_going

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- the agent
class DQNAgent:
    """DQN (stable-baselines3) with gymkit's agent shape and the book's variants as options.

    Builds a `GymkitDQN` from a `DQNConfig`: an MLP or SB3's Nature CNN, optionally
    the double-DQN target and the dueling head. `learn` adds a tqdm progress bar,
    a ``callback(agent, info)`` called after every env step (``False`` stops), the
    history (``episode_return``, ``episode_score`` — the true score from
    ``info["unshaped_reward"]`` where the env reports it —, ``episode_length``,
    ``episode_end_step``, and ``eval_step`` / ``eval_mean`` when evaluating) and,
    with ``target_score``, early stopping on greedy evaluations. The SB3 model is
    ``agent.model`` for anything else SB3 offers.

    For Atari, give it a preprocessed env, e.g. ``gymkit.wrappers.make_atari(game)``,
    with ``DQNConfig.atari_book()`` (see `from_atari`).

    Example:
        >>> import gymnasium as gym
        >>> from gymkit.agents import DQNAgent, DQNConfig
        >>> config = DQNConfig.cartpole(dueling=True, learning_starts=100, eval_freq=0,
        ...                             target_score=None, seed=0)
        >>> agent = DQNAgent(gym.make("CartPole-v1"), config).learn(500)
        >>> type(agent.model.q_net).__name__, agent.model.double_q
        ('DuelingQNetwork', True)
        >>> agent.predict([0.0, 0.0, 0.0, 0.0]) in (0, 1)
        True

    Args:
        env: a Gymnasium env (or an SB3 VecEnv) with Discrete actions and Box observations.
        config: the hyper-parameters (default `DQNConfig()`).
    """

    def __init__(self, env: gym.Env | VecEnv, config: DQNConfig | None = None):
        config = config if config is not None else DQNConfig()
        name = type(self).__name__
        if not isinstance(config, DQNConfig):
            raise TypeError(f"{name}: `config` must be a DQNConfig, got {type(config).__name__}")
        if not isinstance(env.action_space, spaces.Discrete):
            raise TypeError(f"{name}: `env.action_space` must be Discrete, got {env.action_space}")
        if not isinstance(env.observation_space, spaces.Box):
            raise TypeError(
                f"{name}: `env.observation_space` must be a Box, got {env.observation_space}"
            )
        if config.policy == "cnn" and not is_image_space(
            env.observation_space, check_channels=False
        ):
            raise ValueError(
                f"{name}: policy 'cnn' needs image observations (a uint8 Box of rank 3 with "
                f"values in [0, 255]), got {env.observation_space}"
            )
        self.env = env
        self.config = config
        self.history: dict[str, list] = {}
        self._reset_history()
        self.model = GymkitDQN(env=env, **self._model_kwargs(config))
        self.model.gymkit_config = config_to_json(config)

    def _reset_history(self) -> None:
        for key in (
            "episode_return", "episode_score", "episode_length", "episode_end_step",
            "eval_step", "eval_mean",
        ):  # fmt: skip
            self.history.setdefault(key, [])

    @staticmethod
    def _model_kwargs(config: DQNConfig) -> dict[str, Any]:
        if config.dueling:
            policy: Any = DuelingCnnPolicy if config.policy == "cnn" else DuelingDQNPolicy
        else:
            policy = "CnnPolicy" if config.policy == "cnn" else "MlpPolicy"
        policy_kwargs: dict[str, Any] = {
            "net_arch": list(config.net_arch),
            "activation_fn": _ACTIVATIONS[config.activation],
            "optimizer_class": _OPTIMIZERS[config.optimizer],
            "optimizer_kwargs": dict(config.optimizer_kwargs or {}),
        }
        if config.dueling:
            policy_kwargs["aggregation"] = config.dueling_aggregation
        return dict(
            policy=policy,
            double_q=config.double_q,
            loss=config.loss,
            exploration_steps=config.exploration_steps,
            seed=config.seed,
            learning_rate=config.learning_rate,
            buffer_size=config.buffer_size,
            optimize_memory_usage=config.optimize_memory_usage,
            # SB3's memory-saving buffer cannot also keep timeouts apart.
            replay_buffer_kwargs=(
                {"handle_timeout_termination": False} if config.optimize_memory_usage else {}
            ),
            learning_starts=config.learning_starts,
            batch_size=config.batch_size,
            gamma=config.gamma,
            train_freq=config.train_freq,
            gradient_steps=config.gradient_steps,
            target_update_interval=config.target_update_interval,
            exploration_initial_eps=config.exploration_initial_eps,
            exploration_final_eps=config.exploration_final_eps,
            max_grad_norm=config.max_grad_norm,
            policy_kwargs=policy_kwargs,
            device=config.device,
        )

    @classmethod
    def from_atari(cls, game: str, config: DQNConfig | None = None, **make_kwargs: Any) -> DQNAgent:
        """Build the agent on gymkit's Atari preset (imported only here).

        Args:
            game: the game, as ``gymkit.wrappers.make_atari`` takes it.
            config: default `DQNConfig.atari_book()`.
            **make_kwargs: passed to ``make_atari`` (e.g. ``profile=``).
        """
        from gymkit.wrappers import make_atari

        return cls(make_atari(game, **make_kwargs), config or DQNConfig.atari_book())

    def _default_eval_env(self) -> str:
        spec = getattr(self.env, "spec", None)
        if spec is None or spec.additional_wrappers:
            raise ValueError(
                "DQNAgent: evaluation (`eval_freq` > 0) needs `eval_env=` (an env id or a "
                "VectorEnv) when the training env was not made plainly from a registered id"
            )
        return spec.id

    def learn(
        self,
        total_timesteps: int,
        callback: Callback | BaseCallback | None = None,
        progress_bar: bool = False,
        eval_env: str | gym.vector.VectorEnv | None = None,
    ) -> DQNAgent:
        """Train for ``total_timesteps`` env steps (fewer if stopped early); calls continue.

        Args:
            total_timesteps: env steps to train for.
            callback: ``callback(agent, info)`` after each env step (``False`` stops),
                or an SB3 ``BaseCallback``.
            progress_bar: show a tqdm bar over env steps.
            eval_env: where evaluations play (an env id or a ``VectorEnv``); default
                the training env's id.
        """
        if self.env is None:
            raise ValueError(
                "DQNAgent: this agent has no env (loaded without one); pass `env=` to "
                "DQNAgent.load() to train it"
            )
        if self.config.eval_freq and eval_env is None:
            eval_env = self._default_eval_env()
        sb3_callback = callback if isinstance(callback, BaseCallback) else None
        user_callback = None if sb3_callback is not None else callback
        ours = _AgentCallback(self, total_timesteps, user_callback, progress_bar, eval_env)
        callbacks = CallbackList([ours, sb3_callback]) if sb3_callback is not None else ours
        self.model.learn(
            total_timesteps, callback=callbacks, reset_num_timesteps=self.model.num_timesteps == 0
        )
        return self

    def predict(self, obs: Any, deterministic: bool = True) -> int | np.ndarray:
        """The greedy action (or an epsilon-greedy one) for one observation or a batch.

        Args:
            obs: an observation, or a batch of them stacked on the first axis.
            deterministic: greedy; ``False`` explores with the current epsilon.
        """
        obs = np.asarray(obs, dtype=self.model.observation_space.dtype)
        actions, _ = self.model.predict(obs, deterministic=deterministic)
        return int(actions) if np.ndim(actions) == 0 else actions

    def q_values(self, obs: Any) -> np.ndarray:
        """Q-values of the online network, ``(n_actions,)`` or ``(batch, n_actions)``.

        Args:
            obs: an observation, or a batch of them stacked on the first axis.
        """
        policy = self.model.policy
        obs_array = np.asarray(obs, dtype=self.model.observation_space.dtype)
        tensor, vectorized = policy.obs_to_tensor(obs_array)
        with th.no_grad():
            q = self.model.q_net(tensor).cpu().numpy()
        return q if vectorized else q[0]

    def save(self, path: str | os.PathLike) -> None:
        """Save the SB3 model (a ``.zip``) with the config and the history.

        Args:
            path: file to write (SB3 appends ``.zip``).
        """
        self.model.gymkit_config = config_to_json(self.config)
        self.model.gymkit_history = {k: list(v) for k, v in self.history.items()}
        self.model.save(path)

    @classmethod
    def load(cls, path: str | os.PathLike, env: Any = None, device: str = "auto") -> DQNAgent:
        """Load an agent written by `save`; ``predict`` then returns exactly what it did.

        Args:
            path: the file `save` wrote.
            env: the env to keep training on (``predict`` needs none).
            device: torch device to load onto.
        """
        model = GymkitDQN.load(path, env=env, device=device)
        if not hasattr(model, "gymkit_config"):
            raise ValueError(f"DQNAgent.load: {os.fspath(path)!r} was not saved by DQNAgent.save")
        agent = cls.__new__(cls)
        agent.env = env
        agent.config = config_from_json(DQNConfig, model.gymkit_config)
        agent.model = model
        agent.history = {k: list(v) for k, v in getattr(model, "gymkit_history", {}).items()}
        agent._reset_history()
        return agent
