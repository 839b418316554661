"""Argument and space checks shared by gymkit's wrappers (each error names the wrapper)."""

from __future__ import annotations

import numbers

import gymnasium as gym
import numpy as np
from gymnasium import spaces


def positive_int(owner: str, name: str, value, minimum: int = 1) -> int:
    """Return `value` as an int; raise naming `owner` and `name` unless it is an int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: `{name}` must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{owner}: `{name}` must be >= {minimum}, got {value}")
    return int(value)


def one_of(owner: str, name: str, value, choices: tuple) -> None:
    """Raise a ValueError naming `owner` and `name` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{owner}: `{name}` must be one of {choices}, got {value!r}")


def image_space(owner: str, env: gym.Env, channels: tuple[int, ...] | None = None) -> spaces.Box:
    """Return the env's observation space if it is an image Box: (H, W) or (H, W, C) uint8.

    Args:
        owner: the wrapper's name, for the error message.
        env: the env to check.
        channels: the allowed C of a 3-D image (None allows 2-D and any C).
    """
    space = env.observation_space
    if not isinstance(space, spaces.Box):
        raise TypeError(
            f"{owner}: needs an image observation space (Box of shape (H, W) or (H, W, C)), "
            f"got {space}"
        )
    if space.dtype != np.uint8 or len(space.shape) not in (2, 3):
        raise ValueError(
            f"{owner}: needs uint8 images of shape (H, W) or (H, W, C), got "
            f"shape {space.shape} dtype {space.dtype}"
        )
    if channels is not None and (len(space.shape) != 3 or space.shape[2] not in channels):
        raise ValueError(
            f"{owner}: needs images of shape (H, W, C) with C in {channels}, got {space.shape}"
        )
    return space


def ale_env(owner: str, env: gym.Env):
    """Return the env's ALE AtariEnv, or raise a ValueError naming `owner` if it is not one."""
    unwrapped = env.unwrapped
    if not hasattr(unwrapped, "ale") or not hasattr(unwrapped, "get_action_meanings"):
        raise ValueError(
            f"{owner}: needs an ALE Atari env (ale_py's AtariEnv), got {type(unwrapped).__name__}"
        )
    return unwrapped


def action_meanings(env: gym.Env) -> list[str] | None:
    """The env's action meanings (ALE and most Atari-like envs), or None if it has none."""
    getter = getattr(env.unwrapped, "get_action_meanings", None)
    return list(getter()) if callable(getter) else None
