"""Observation wrappers that keep state across steps.

- `FrameStackObservation`: the last N observations, channel-first or channel-last.
"""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gymkit.common.checks import one_of, positive_int

__all__ = ["FrameStackObservation"]

_PADDINGS = ("reset", "zero")
_LAYOUTS = ("channels_first", "channels_last")


class FrameStackObservation(
    gym.Wrapper[np.ndarray, Any, np.ndarray, Any], gym.utils.RecordConstructorArgs
):
    """Stack the last ``stack_size`` observations of any Box env.

    Layouts:
        * ``"channels_first"`` (default): a new leading axis, ``(N, *obs_shape)``,
          exactly Gymnasium's ``FrameStackObservation`` (and PyTorch's NCHW).
        * ``"channels_last"``: frames joined on the channel axis, ``(H, W, N*C)``
          (a 2-D frame counts as one channel), exactly SB3's ``VecFrameStack``;
          SB3's ``CnnPolicy`` and RLlib's CNN expect this layout.

    Padding on reset: ``"reset"`` repeats the first observation (Gymnasium's default),
    ``"zero"`` fills with zeros (SB3's ``VecFrameStack``).

    What gymkit fixes: no ``deque`` + ``concatenate`` + ``deepcopy`` per step. Each step
    writes one new array: the previous stack shifted by one frame plus the new frame.
    Returned stacks are never written again, so a replay buffer may keep them as
    they are.

    Example:
        >>> import gymnasium as gym, ale_py
        >>> import gymkit.wrappers as gw
        >>> gym.register_envs(ale_py)
        >>> env = gw.ResizeObservation(gw.GrayscaleObservation(gym.make("ALE/Pong-v5")), 84)
        >>> env.observation_space.shape
        (84, 84)
        >>> gw.FrameStackObservation(env, 4).observation_space.shape
        (4, 84, 84)
        >>> gw.FrameStackObservation(env, 4, layout="channels_last").observation_space.shape
        (84, 84, 4)

    Args:
        env: an env with a Box observation space.
        stack_size: number of observations to stack (>= 1).
        layout: ``"channels_first"`` or ``"channels_last"``.
        padding: ``"reset"`` or ``"zero"``.
    """

    def __init__(
        self,
        env: gym.Env,
        stack_size: int,
        layout: Literal["channels_first", "channels_last"] = "channels_first",
        padding: Literal["reset", "zero"] = "reset",
    ):
        gym.utils.RecordConstructorArgs.__init__(
            self, stack_size=stack_size, layout=layout, padding=padding
        )
        gym.Wrapper.__init__(self, env)
        n = positive_int("FrameStackObservation", "stack_size", stack_size)
        one_of("FrameStackObservation", "layout", layout, _LAYOUTS)
        one_of("FrameStackObservation", "padding", padding, _PADDINGS)
        space = env.observation_space
        if not isinstance(space, spaces.Box):
            raise TypeError(f"FrameStackObservation: needs a Box observation space, got {space}")
        if layout == "channels_last" and len(space.shape) not in (2, 3):
            raise ValueError(
                "FrameStackObservation: layout='channels_last' needs (H, W) or (H, W, C) "
                f"observations, got shape {space.shape}"
            )
        self.stack_size, self.layout, self.padding = n, layout, padding
        if layout == "channels_first":
            low = np.broadcast_to(space.low, (n, *space.shape))
            high = np.broadcast_to(space.high, (n, *space.shape))
            self._channels = 0
        else:
            c = space.shape[2] if len(space.shape) == 3 else 1
            low = np.concatenate([np.reshape(space.low, (*space.shape[:2], c))] * n, axis=2)
            high = np.concatenate([np.reshape(space.high, (*space.shape[:2], c))] * n, axis=2)
            self._channels = c
        self.observation_space = spaces.Box(low, high, dtype=space.dtype)
        self._stack = np.zeros(self.observation_space.shape, dtype=space.dtype)

    def _push(self, obs: np.ndarray) -> np.ndarray:
        """Return a new stack: the previous one shifted by a frame, then `obs`."""
        prev = self._stack
        new = np.empty_like(prev)
        c = self._channels
        if c == 0:
            new[:-1] = prev[1:]
            new[-1] = obs
        else:
            new[..., :-c] = prev[..., c:]
            new[..., -c:] = obs.reshape(new.shape[:2] + (c,))
        self._stack = new
        return new

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the env and fill the stack with the padding and the first observation."""
        obs, info = self.env.reset(seed=seed, options=options)
        stack = np.zeros_like(self._stack)
        if self.padding == "reset":
            if self._channels == 0:
                stack[:] = obs
            else:
                stack[:] = np.tile(
                    obs.reshape(stack.shape[:2] + (self._channels,)), self.stack_size
                )
        self._stack = stack
        return self._push(obs), info

    def step(self, action):
        """Step the env and push its observation on the stack."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._push(obs), reward, terminated, truncated, info
