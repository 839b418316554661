"""Run gymkit's environments on Ray RLlib's env runners.

- `configure`: point any RLlib ``AlgorithmConfig`` at a gymkit id or an Atari preset.
- `EnvCreator`: the RLlib env creator behind it; remote env runners import gymkit
  through it, so ids registered by ``import gymkit`` exist there too.
- `encode_observations`: the Gymnasium wrappers that give RLlib's default models
  the observations they accept (one-hot states, float channel-last images).
- `EnvCreationError`: raised when an env cannot be made; it names the id and kwargs.
- `UNSHAPED_RETURN`: the metric holding the true score of reward-shaped envs.

Two traps this module removes. An id registered in the driver (``import gymkit``)
is unknown in the env runners, which are other processes, so RLlib raises
``NameNotFound`` there. And RLlib's model catalog has no encoder for a ``Discrete``
observation, nor for ``uint8`` or channel-first images.

Needs the ``ray`` extra (``pip install -e ".[ray]"`` in a gymkit checkout).
``import gymkit`` never imports Ray; only this module does.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import (
    DtypeObservation,
    FlattenObservation,
    RescaleObservation,
    ReshapeObservation,
)

try:
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
    from ray.tune.registry import register_env
except ImportError as err:
    raise ImportError(
        f"gymkit.integrations.rllib needs Ray RLlib ({err}); install it from a gymkit "
        "checkout with: pip install -e '.[ray]'"
    ) from err

from gymkit.envs.shaped_cartpole import ShapedCartPoleEnv
from gymkit.wrappers.presets import AtariProfile, make_atari

__all__ = [
    "configure",
    "EnvCreator",
    "encode_observations",
    "EnvCreationError",
    "UNSHAPED_RETURN",
]

#: Key, in ``result["env_runners"]``, of the mean true (unshaped) episode return.
UNSHAPED_RETURN = "unshaped_episode_return_mean"


class EnvCreationError(ValueError):
    """An env could not be made from its id and kwargs; the cause is chained."""


def encode_observations(env: gym.Env) -> gym.Env:
    """Wrap ``env`` so that RLlib's default model catalog can encode its observations.

    RLlib builds an MLP for a 1-D float ``Box`` and a CNN for a 3-D float ``Box`` that
    it reads as channel-last ``(H, W, C)``; any other space fails ("No default encoder
    config") or feeds the network the wrong tensor. Gymnasium's own wrappers bridge
    the gap:

    * ``Discrete``, ``MultiDiscrete``, ``MultiBinary``, ``Tuple``, ``Dict``: flattened
      (one-hot for discrete parts) into a 1-D ``float32`` ``Box``.
    * ``uint8`` ``Box``: ``float32`` scaled to ``[0, 1]``; a gray ``(H, W)`` frame gets a
      channel axis, ``(H, W, 1)``.
    * a channel-first image ``(C, H, W)``: ``ValueError``. RLlib's CNN would read ``C``
      as the height, silently; transpose it in the env instead.
    * other Boxes: 1-D and 3-D kept, others flattened; integer dtypes become ``float32``.

    Example:
        >>> import gymnasium as gym
        >>> import gymkit
        >>> from gymkit.integrations.rllib import encode_observations
        >>> env = gym.make("ToyMDP-v0")
        >>> env.observation_space, encode_observations(env).observation_space
        (Discrete(3), Box(0.0, 1.0, (3,), float32))
        >>> encode_observations(env).reset(seed=0)[0]
        array([1., 0., 0.], dtype=float32)

    Args:
        env: any Gymnasium env.

    Returns:
        ``env``, wrapped only where RLlib needs it.
    """
    space = env.observation_space
    if not isinstance(space, spaces.Box):
        env = FlattenObservation(env)
        space = env.observation_space
    ndim = len(space.shape)
    if ndim == 3 and space.shape[0] < min(space.shape[1:]):
        raise ValueError(
            f"gymkit.integrations.rllib: observations of shape {space.shape} look channel-first "
            f"(C, H, W); RLlib's CNN reads (H, W, C) and would take {space.shape[0]} for "
            "the height. Make the env channel-last (gymkit's Atari presets: "
            "stack_layout='channels_last')"
        )
    if ndim == 2 and space.dtype == np.uint8:
        env = ReshapeObservation(env, (*space.shape, 1))
    elif ndim not in (1, 3):
        env = FlattenObservation(env)
    space = env.observation_space
    if space.dtype == np.uint8:
        env = DtypeObservation(env, np.float32)
        env = RescaleObservation(env, np.float32(0.0), np.float32(1.0))
    elif not np.issubdtype(space.dtype, np.floating):
        env = DtypeObservation(env, np.float32)
    return env


class EnvCreator:
    """An RLlib env creator for a gymkit id, or a game under a gymkit Atari profile.

    RLlib calls it in every env runner with the config's ``env_config`` (the env's
    keyword arguments). It is pickled by reference, so unpickling it in a remote
    process imports gymkit, which registers every gymkit id there. It returns the env
    wrapped by `encode_observations`, and a failure to make it raises
    `EnvCreationError` naming the id and the kwargs, also from inside a remote runner.

    Atari stacks are built channel-last (``stack_layout="channels_last"``), the layout
    RLlib's CNN reads: the same frames as the profile's, transposed. Passing
    ``stack_layout="channels_first"`` fails loudly rather than feeding the CNN
    transposed images.

    Example:
        >>> from gymkit.integrations.rllib import EnvCreator
        >>> creator = EnvCreator("ShapedCartPole-v1")
        >>> creator.name
        'gymkit.rllib/ShapedCartPole-v1'
        >>> creator({"max_subtraction": 0.5}).observation_space.shape
        (4,)
        >>> EnvCreator("Breakout", atari_profile="sb3")({}).observation_space
        Box(0.0, 1.0, (84, 84, 4), float32)

    Args:
        env_id: a Gymnasium id (``"ToyMDP-v0"``, ``"gymkit:ToyMDP-v0"``,
            ``"CartPole-v1"``), or with ``atari_profile`` a game for `make_atari`.
        atari_profile: ``None``, or a profile name in ``PROFILES`` or an `AtariProfile`.
    """

    def __init__(self, env_id: str, atari_profile: str | AtariProfile | None = None):
        if not isinstance(env_id, str) or not env_id:
            raise TypeError(f"EnvCreator: `env_id` must be a non-empty str, got {env_id!r}")
        if atari_profile is not None and not isinstance(atari_profile, (str, AtariProfile)):
            raise TypeError(
                "EnvCreator: `atari_profile` must be None, a profile name or an AtariProfile, "
                f"got {atari_profile!r}"
            )
        self.env_id = env_id
        self.atari_profile = atari_profile

    @property
    def name(self) -> str:
        """The name this creator is registered under with ``ray.tune.register_env``."""
        if self.atari_profile is None:
            return f"gymkit.rllib/{self.env_id}"
        if isinstance(self.atari_profile, str):
            return f"gymkit.rllib/{self.env_id}[{self.atari_profile}]"
        digest = hashlib.sha1(repr(self.atari_profile).encode()).hexdigest()[:10]
        return f"gymkit.rllib/{self.env_id}[AtariProfile-{digest}]"

    def __call__(self, env_config: Mapping[str, Any] | None = None) -> gym.Env:
        """Make the env with ``env_config`` as its keyword arguments, encoded for RLlib."""
        # An EnvContext is a dict (the kwargs) with the runner's indices as attributes.
        kwargs = dict(env_config or {})
        try:
            if self.atari_profile is None:
                env = gym.make(self.env_id, **kwargs)
            else:
                env = make_atari(
                    self.env_id, self.atari_profile, **{"stack_layout": "channels_last", **kwargs}
                )
            return encode_observations(env)
        except Exception as err:
            what = repr(self.env_id)
            if self.atari_profile is not None:
                what += f" (Atari profile {self.atari_profile!r})"
            raise EnvCreationError(
                f"gymkit.integrations.rllib: cannot make {what} with env kwargs {kwargs!r}: "
                f"{type(err).__name__}: {err}"
            ) from err

    def __repr__(self) -> str:
        return f"EnvCreator({self.env_id!r}, atari_profile={self.atari_profile!r})"


def configure(
    config: AlgorithmConfig,
    env_id: str,
    *,
    atari_profile: str | AtariProfile | None = None,
    **env_kwargs: Any,
) -> AlgorithmConfig:
    """Point an RLlib config at a gymkit env so it runs on local and remote env runners.

    It makes the env once here, in the driver, so a bad id or kwarg fails now with an
    `EnvCreationError` that names both, not later inside a remote runner. Then it
    registers an `EnvCreator` with ``ray.tune.registry.register_env`` and sets
    ``config.environment(env=creator.name, env_config=env_kwargs)``: every env runner,
    on this machine or on a cluster's nodes, makes the env through gymkit, with the
    observations `encode_observations` gives. For ``ShapedCartPole-v1`` it also logs
    the true CartPole score, summed from ``info["unshaped_reward"]``, under
    ``result["env_runners"][UNSHAPED_RETURN]`` beside RLlib's shaped
    ``episode_return_mean``.

    The registration lives in the running Ray session (or, before ``ray.init``, is
    sent to the next one): call ``configure`` again after restarting Ray.

    Example:
        >>> import ray
        >>> from ray.rllib.algorithms.ppo import PPOConfig
        >>> from gymkit.integrations.rllib import UNSHAPED_RETURN, configure
        >>> ray.init(num_cpus=2)  # doctest: +SKIP
        >>> config = configure(PPOConfig(), "ShapedCartPole-v1", max_subtraction=0.5)
        >>> config.env, config.env_config
        ('gymkit.rllib/ShapedCartPole-v1', {'max_subtraction': 0.5})
        >>> algo = config.env_runners(num_env_runners=2).build_algo()  # doctest: +SKIP
        >>> runners = algo.train()["env_runners"]  # doctest: +SKIP
        >>> true_score = runners[UNSHAPED_RETURN]  # doctest: +SKIP
        >>> true_score == runners["episode_len_mean"]  # CartPole pays 1 a step  # doctest: +SKIP
        True
        >>> atari = configure(PPOConfig(), "Breakout", atari_profile="sb3")
        >>> atari.env
        'gymkit.rllib/Breakout[sb3]'

    Args:
        config: any RLlib ``AlgorithmConfig`` (``PPOConfig()``, ``DQNConfig()``...);
            changed in place and returned.
        env_id: a gymkit id (``"ToyMDP-v0"``), any Gymnasium id whose module the env
            runners can import, or with ``atari_profile`` a game (``"Breakout"``).
        atari_profile: build the env with `make_atari` under this profile (a name in
            ``PROFILES`` or an `AtariProfile`), channel-last.
        **env_kwargs: keyword arguments of the env (``gym.make``), or of `make_atari`
            with ``atari_profile`` (profile overrides, ``env_kwargs``); stored in
            ``config.env_config``.

    Returns:
        ``config``, for chaining.

    Raises:
        TypeError: ``config`` is not an ``AlgorithmConfig``.
        EnvCreationError: the env cannot be made from ``env_id`` and ``env_kwargs``.
    """
    if not isinstance(config, AlgorithmConfig):
        raise TypeError(
            "gymkit.integrations.rllib.configure: `config` must be an RLlib AlgorithmConfig, "
            f"got {config!r}"
        )
    creator = EnvCreator(env_id, atari_profile)
    env = creator(env_kwargs)
    shaped = isinstance(env.unwrapped, ShapedCartPoleEnv)
    env.close()
    register_env(creator.name, creator)
    config.environment(env=creator.name, env_config=dict(env_kwargs))
    # Set or clear, so reusing a config for another env leaves no stale callback.
    config.callbacks(
        on_episode_step=_callbacks(config.callbacks_on_episode_step, _sum_unshaped_reward, shaped),
        on_episode_end=_callbacks(config.callbacks_on_episode_end, _log_unshaped_return, shaped),
    )
    return config


def _callbacks(existing, callback, keep: bool) -> list | None:
    """The config's callbacks for one event, with ``callback`` once at the end or not at all."""
    if existing is None:
        existing = []
    elif callable(existing):
        existing = [existing]
    return [c for c in existing if c is not callback] + ([callback] if keep else []) or None


def _sum_unshaped_reward(*, episode, **kwargs) -> None:
    # custom_data follows an episode across the chunks RLlib cuts it into.
    reward = episode.get_infos(-1)["unshaped_reward"]
    data = episode.custom_data
    data["unshaped_return"] = data.get("unshaped_return", 0.0) + reward


def _log_unshaped_return(*, episode, env_runner, metrics_logger, **kwargs) -> None:
    # The same window as RLlib's episode_return_mean, so the two compare.
    config = env_runner.config
    episodes = config.metrics_num_episodes_for_smoothing
    window = max(1, math.ceil(episodes / (config.num_env_runners or 1)))
    metrics_logger.log_value(
        UNSHAPED_RETURN, episode.custom_data.get("unshaped_return", 0.0), window=window
    )
