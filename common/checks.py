"""Argument checks shared by gymkit's wrappers, agents and configs: one vocabulary.

Every check takes ``owner`` (the class or function whose argument it is) and ``name``
(the argument), and raises a ``TypeError`` (wrong kind of value) or ``ValueError``
(right kind, wrong value) whose message names both, says what was expected and shows
what was received. Checks that accept a value return it normalised (``int``,
``float``), so callers store what they checked.

Example:
    >>> from gymkit.common.checks import one_of, positive_int
    >>> positive_int("FrameStackObservation", "stack_size", 4)
    4
    >>> one_of("make_atari", "life_loss", "terminated", ("episodic", "terminate", None))
    Traceback (most recent call last):
    ...
    ValueError: make_atari: `life_loss` must be one of ('episodic', 'terminate', None), got 'terminated' (did you mean 'terminate'?)
"""  # noqa: E501

from __future__ import annotations

import difflib
import math
import numbers
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = [
    "positive_int",
    "one_of",
    "number",
    "probability",
    "boolean",
    "discrete_space",
    "image_space",
    "ale_env",
]


def _kind(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """Return `value` as an int; raise naming `owner` and `name` unless it is an int >= minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: `{name}` must be an int, got {_kind(value)}")
    if value < minimum:
        raise ValueError(f"{owner}: `{name}` must be >= {minimum}, got {value}")
    return int(value)


def one_of(owner: str, name: str, value: Any, choices: tuple) -> None:
    """Raise a ValueError naming `owner` and `name` unless `value` is one of `choices`.

    A string close to one of the string choices gets a "did you mean" suggestion.
    """
    try:
        if value in choices:
            return
    except TypeError:  # an unhashable or incomparable value is simply not a choice
        pass
    hint = ""
    if isinstance(value, str):
        words = [c for c in choices if isinstance(c, str)]
        close = difflib.get_close_matches(value, words, n=1, cutoff=0.6)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
    raise ValueError(f"{owner}: `{name}` must be one of {choices}, got {value!r}{hint}")


def number(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """Return `value` as a float if it is a real number within the bounds.

    NaN is always refused, infinities unless ``allow_inf``; ``bool`` is not a number.

    Args:
        owner: the class or function, for the message.
        name: the argument, for the message.
        value: the value to check.
        low: the lower bound (``None``: none).
        high: the upper bound (``None``: none).
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.
        allow_inf: accept ``±inf`` (within the bounds).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: `{name}` must be a real number, got {_kind(value)}")
    result = float(value)
    if math.isnan(result) or (math.isinf(result) and not allow_inf):
        raise ValueError(f"{owner}: `{name}` must be a finite number, got {value!r}")
    too_low = low is not None and (result <= low if low_open else result < low)
    too_high = high is not None and (result >= high if high_open else result > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{owner}: `{name}` must be in {left}{lo}, {hi}{right}, got {value!r}")
    return result


def probability(owner: str, name: str, value: Any, *, open_low: bool = False) -> float:
    """Return `value` as a float in [0, 1] (or (0, 1] with ``open_low``), else raise."""
    return number(owner, name, value, low=0.0, high=1.0, low_open=open_low)


def boolean(owner: str, name: str, value: Any) -> bool:
    """Return `value` if it is a bool (numpy's included); a string or a number is refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: `{name}` must be True or False, got {_kind(value)}")
    return bool(value)


def discrete_space(owner: str, name: str, space: spaces.Space) -> spaces.Discrete:
    """Return ``space`` if it is ``Discrete``, else raise a ``TypeError`` naming the owner."""
    if not isinstance(space, spaces.Discrete):
        raise TypeError(f"{owner}: `{name}` must be Discrete, got {space}")
    return space


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


def ale_env(owner: str, env: gym.Env) -> Any:
    """Return the env's ALE AtariEnv, or raise a ValueError naming `owner` if it is not one."""
    unwrapped = env.unwrapped
    if not hasattr(unwrapped, "ale") or not hasattr(unwrapped, "get_action_meanings"):
        raise ValueError(
            f"{owner}: needs an ALE Atari env (ale_py's AtariEnv), got {type(unwrapped).__name__}"
        )
    return unwrapped
