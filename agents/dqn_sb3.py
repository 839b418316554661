"""SB3 extensions behind `DQNAgent`: the book's double-DQN target, seeded sampling.

- `GymkitDQN`: SB3's ``DQN`` with the double-DQN target (`compute_target`), an MSE or
  Huber loss, epsilon decayed over an absolute number of steps, and randomness from
  its own generators.
- `SeededReplayBuffer`: SB3's replay buffer sampling from its own generator.

SB3 has no hook for these, so this module overrides SB3 methods; the private ones, and
why (the tested SB3 range is pinned in pyproject.toml):

- ``DQN.train`` (public): SB3 computes the TD target inline, with no hook for the
  double-DQN target; ours is SB3's update with `compute_target` and a choice of loss.
- ``DQN.predict`` (public): SB3's epsilon-greedy draws from numpy's global generator.
- ``DQN._setup_model``: the one place SB3 initialises the weights, to seed them inside
  ``torch.random.fork_rng`` without touching the caller's global torch state.
- ``DQN._on_step``: SB3's per-step hook, where epsilon is updated.
- ``ReplayBuffer._get_samples``: SB3 draws the env column of a sample there, from
  numpy's global generator; ours draws it from the buffer's own.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch as th
from stable_baselines3 import DQN
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from torch.nn import functional as F

__all__ = ["GymkitDQN", "SeededReplayBuffer"]


class SeededReplayBuffer(ReplayBuffer):
    """SB3's ``ReplayBuffer`` drawing its samples from its own ``np.random.Generator``.

    SB3's buffer samples slots and env columns with numpy's global generator; this
    one draws both from ``seed``'s generator and never touches the global one.

    Example:
        >>> import numpy as np
        >>> from gymnasium import spaces
        >>> from gymkit.agents.dqn_sb3 import SeededReplayBuffer
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
        >>> from gymkit.agents.dqn_sb3 import GymkitDQN
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
