"""Observation wrappers that keep state across steps.

- `FrameStackObservation`: the last N observations, channel-first or channel-last.
"""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gymkit.wrappers._checks import one_of, positive_int

__all__ = ["FrameStackObservation"]

_PADDINGS = ("reset", "zero")
_LAYOUTS = ("channels_first", "channels_last")


class FrameStackObservation(gym.Wrapper[np.ndarray, Any, np.ndarray, Any], gym.utils.RecordConstructorArgs):
    """Stack the last ``stack_size`` observations of any Box env.

    Layouts:
        * ``"channels_first"`` (default): a new leading axis, ``(N, *obs_shape)``,
          exactly Gymnasium's ``FrameStackObservation`` (and PyTorch's NCHW).
        * ``"channels_last"``: frames joined on the channel axis, ``(H, W, N*C)``
          (a 2-D frame counts as one channel), exactly SB3's ``VecFrameStack``;
          SB3's ``CnnPolicy`` and RLlib's CNN expect this layout.

    Padding on reset: ``"reset"`` repeats the first observation (Gymnasium's default),
    ``"zero"`` fills with zeros (SB3's ``VecFrameStack``).

    What gymkit fixes: no ``deque`` + ``concatenate`` + ``deepcopy`` per step. Frames
    live in a preallocated ring of ``2N`` slots, each frame written twice so the
    current stack is always one contiguous slice; a step costs one frame write and
    one copy of the stack (``copy=False`` returns a read-only view valid until the
    next step, for loops that consume it at once; channels-last output is always
    a fresh array).

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
        copy: return a fresh array each step (default) or a read-only view.
    """

    def __init__(
        self,
        env: gym.Env,
        stack_size: int,
        layout: Literal["channels_first", "channels_last"] = "channels_first",
        padding: Literal["reset", "zero"] = "reset",
        copy: bool = True,
    ):
        gym.utils.RecordConstructorArgs.__init__(
            self, stack_size=stack_size, layout=layout, padding=padding, copy=copy
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
        self.stack_size, self.layout, self.padding, self.copy = n, layout, padding, bool(copy)
        self._frame_shape = space.shape
        if layout == "channels_first":
            low = np.broadcast_to(space.low, (n, *space.shape))
            high = np.broadcast_to(space.high, (n, *space.shape))
            self._ring = np.zeros((2 * n, *space.shape), dtype=space.dtype)
        else:
            c = space.shape[2] if len(space.shape) == 3 else 1
            low = np.concatenate([np.reshape(space.low, (*space.shape[:2], c))] * n, axis=2)
            high = np.concatenate([np.reshape(space.high, (*space.shape[:2], c))] * n, axis=2)
            # the ring keeps frames on the leading axis; the output is made channel-last
            self._ring = np.zeros((2 * n, *space.shape[:2], c), dtype=space.dtype)
        self.observation_space = spaces.Box(low, high, dtype=space.dtype)
        self._pos = n - 1  # slot of the newest frame

    def _as_frame(self, obs: np.ndarray) -> np.ndarray:
        if self.layout == "channels_last" and obs.ndim == 2:
            return obs[:, :, None]
        return obs

    def _push(self, obs: np.ndarray) -> None:
        pos = self._pos + 1
        if pos == self.stack_size:
            pos = 0
        ring = self._ring
        obs = self._as_frame(obs)
        ring[pos] = obs
        ring[pos + self.stack_size] = obs
        self._pos = pos

    def _stack(self) -> np.ndarray:
        start = self._pos + 1
        view = self._ring[start : start + self.stack_size]
        if self.layout == "channels_last":
            # (N, H, W, C) -> (H, W, N*C), oldest frame first, as SB3's VecFrameStack
            return np.concatenate(view, axis=2)
        if self.copy:
            return view.copy()
        view = view.view()
        view.flags.writeable = False
        return view

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the env and fill the stack with the padding and the first observation."""
        obs, info = self.env.reset(seed=seed, options=options)
        if self.padding == "zero":
            self._ring[:] = 0
        else:
            self._ring[:] = self._as_frame(obs)
        self._pos = self.stack_size - 1
        self._push(obs)
        return self._stack(), info

    def step(self, action):
        """Step the env and push its observation on the stack."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._push(obs)
        return self._stack(), reward, terminated, truncated, info
