"""The DQN agent: gymkit's agent shape over stable-baselines3, configured by `DQNConfig`.

- `DQNConfig`: the hyper-parameters, with presets `DQNConfig.cartpole`,
  `DQNConfig.atari_book` and `DQNConfig.rl_zoo_cartpole` (the comparison anchor).
- `DQNAgent`: learn/predict/save/load/history over SB3, with the book's variants
  (double DQN, dueling head) as options.

The SB3 extensions behind it live in `gymkit.agents.dqn_sb3` (`GymkitDQN`,
`SeededReplayBuffer`) and `gymkit.agents.dqn_policies` (the dueling head).

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
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import VecEnv
from torch import nn
from tqdm.auto import tqdm

from gymkit.agents.base import Callback, config_from_json, config_to_json
from gymkit.agents.dqn_policies import AGGREGATIONS, DuelingCnnPolicy, DuelingDQNPolicy
from gymkit.agents.dqn_sb3 import GymkitDQN
from gymkit.agents.evaluation import evaluate
from gymkit.common.checks import probability

__all__ = ["DQNConfig", "DQNAgent"]

_ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh}
_OPTIMIZERS = {"adam": th.optim.Adam, "rmsprop": th.optim.RMSprop}


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
            "dueling_aggregation": AGGREGATIONS,
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
