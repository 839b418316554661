"""Action wrappers that keep state across frames.

- `RepeatAction`: frame skip (repeat an action k times, sum rewards), with optional
  max-pooling of the last two frames and the ALE fast path.
"""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np

from gymkit.common.checks import one_of, positive_int
from gymkit.wrappers.ale_fast_path import plan_fast_path

__all__ = ["RepeatAction"]

_TERMINAL_FRAMES = ("last", "gymnasium", "sb3")


class RepeatAction(gym.Wrapper[np.ndarray, Any, np.ndarray, Any], gym.utils.RecordConstructorArgs):
    """Repeat each action ``repeat`` times (frame skip), summing the rewards.

    Stops early when a frame terminates or truncates; the info is the last frame's.
    With ``max_pool=True`` the observation is the element-wise max of the last two
    frames of the repeat (Atari sprites flicker between frames), which makes this
    the max-pool wrapper of the usual Atari stack.

    On a step that ends mid-repeat, the references differ, and ``terminal_frame``
    picks the rule:
        * ``"last"`` (default): the true last frame the game showed (pooled with the
          frame before it when the end falls on the last frame of the repeat).
        * ``"gymnasium"``: exactly Gymnasium's ``AtariPreprocessing`` buffers (mostly
          the previous observation again).
        * ``"sb3"``: exactly SB3's ``MaxAndSkipEnv`` buffers (stale frames, kept even
          across resets).
    On every step that does not end mid-repeat all three give the same pooled frame.

    Fast path: on an ALE env (through pass-through wrappers and at most a
    `GrayscaleObservation`), the frames go straight to the emulator and only the two
    pooled screens are fetched, into preallocated buffers. The choice is automatic;
    ``path`` says which runs (``"ale-fast"`` or ``"generic: <why>"``).

    Example:
        >>> import gymnasium as gym, ale_py
        >>> import gymkit.wrappers as gw
        >>> gym.register_envs(ale_py)
        >>> env = gym.make("ALE/Breakout-v5", frameskip=1)
        >>> env = gw.RepeatAction(gw.GrayscaleObservation(env), 4, max_pool=True)
        >>> env.observation_space.shape, env.path
        ((210, 160), 'ale-fast')
        >>> obs, info = env.reset(seed=0)
        >>> _, reward, terminated, truncated, info = env.step(1)
        >>> info["episode_frame_number"]
        4

    Args:
        env: any env; on ALE it must not skip frames itself (``frameskip=1``).
        repeat: frames per agent step (>= 1).
        max_pool: return the max of the last two frames (needs a Box observation).
        terminal_frame: ``"last"``, ``"gymnasium"`` or ``"sb3"`` (see above).
    """

    def __init__(
        self,
        env: gym.Env,
        repeat: int = 4,
        max_pool: bool = False,
        terminal_frame: Literal["last", "gymnasium", "sb3"] = "last",
    ):
        gym.utils.RecordConstructorArgs.__init__(
            self, repeat=repeat, max_pool=max_pool, terminal_frame=terminal_frame
        )
        gym.Wrapper.__init__(self, env)
        self.repeat = positive_int("RepeatAction", "repeat", repeat)
        one_of("RepeatAction", "terminal_frame", terminal_frame, _TERMINAL_FRAMES)
        self._check_no_double_skip(env)
        self.max_pool = bool(max_pool) and self.repeat > 1
        self.terminal_frame = terminal_frame
        space = env.observation_space
        if max_pool and not isinstance(space, gym.spaces.Box):
            raise TypeError(
                f"RepeatAction: max_pool=True needs a Box observation space, got {space}"
            )
        if self.max_pool or terminal_frame != "last":
            # [0] and [1] as in the references' two-slot buffers
            self._frames = np.zeros((2, *space.shape), dtype=space.dtype)
        self._fast, self.path = plan_fast_path(env)
        if self._fast is not None and self._fast.frame_shape != space.shape[:2] + (
            () if self._fast.gray else (3,)
        ):
            self._fast, self.path = None, "generic: observation shape differs from the screen"
        self._ready = False  # the fast path runs only after a reset through this wrapper
        fps = env.metadata.get("render_fps")
        if fps:  # one agent step shows `repeat` frames: videos play in real time
            self.metadata = {**env.metadata, "render_fps": fps / self.repeat}

    @staticmethod
    def _check_no_double_skip(env: gym.Env) -> None:
        layer = env
        while isinstance(layer, gym.Wrapper):
            if isinstance(layer, RepeatAction):
                raise ValueError(
                    "RepeatAction: the env already has a RepeatAction below; frames would be "
                    "skipped twice"
                )
            layer = layer.env
        frameskip = getattr(layer, "_frameskip", 1)
        if frameskip != 1:
            raise ValueError(
                f"RepeatAction: the base env skips frames itself (frameskip={frameskip}); "
                "make it with frameskip=1, e.g. gym.make('ALE/Breakout-v5', frameskip=1), "
                "or frames would be skipped twice"
            )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the env (and Gymnasium's pooling buffers, in that mode)."""
        obs, info = self.env.reset(seed=seed, options=options)
        if self.terminal_frame == "gymnasium":
            frames = self._frames
            frames[0] = obs
            frames[1] = 0
            obs = frames[0].copy()
        self._ready = True
        return obs, info

    def step(self, action):
        """Repeat `action`; see the class doc for the observation returned."""
        if self._fast is not None and self._ready:
            return self._step_fast(action)
        return self._step_generic(action)

    def _step_generic(self, action):
        env, k, mode = self.env, self.repeat, self.terminal_frame
        frames = self._frames if (self.max_pool or mode != "last") else None
        total = 0.0
        for t in range(k):
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            if mode == "sb3":  # written before the end check, as SB3 does
                if t == k - 2:
                    frames[0] = obs
                elif t == k - 1:
                    frames[1] = obs
            if terminated or truncated:
                break
            if mode == "gymnasium":
                if t == k - 2:
                    frames[1] = obs
                elif t == k - 1:
                    frames[0] = obs
            elif mode == "last" and self.max_pool and t == k - 2:
                frames[1] = obs
        if mode == "last":
            if self.max_pool and t == k - 1:
                obs = np.maximum(frames[1], obs)
        elif self.max_pool or mode == "gymnasium":
            obs = self._from_buffers()
        return obs, total, terminated, truncated, info

    def _from_buffers(self) -> np.ndarray:
        """The observation the "gymnasium" and "sb3" rules make from the two-slot buffers."""
        frames = self._frames
        if self.terminal_frame == "gymnasium":
            if self.max_pool:
                np.maximum(frames[0], frames[1], out=frames[0])  # in place, as Gymnasium does
            return frames[0].copy()
        return np.maximum(frames[0], frames[1])

    def _step_fast(self, action):
        fast, k, mode = self._fast, self.repeat, self.terminal_frame
        act, game_over, fetch = fast.act, fast.game_over, fast.fetch
        a = fast.action_set[action]
        frames = self._frames if (self.max_pool or mode != "last") else None
        total = 0.0
        terminated = truncated = False
        for t in range(k):
            total += act(a)
            if mode == "sb3":
                if t == k - 2:
                    fetch(frames[0])
                elif t == k - 1:
                    fetch(frames[1])
            if game_over():
                terminated, truncated = fast.flags()
                break
            if mode == "gymnasium":
                if t == k - 2:
                    fetch(frames[1])
                elif t == k - 1:
                    fetch(frames[0])
            elif mode == "last" and self.max_pool and t == k - 2:
                fetch(frames[1])
        if mode != "last" and (self.max_pool or mode == "gymnasium"):
            obs = self._from_buffers()
        else:  # the true last frame, pooled when the repeat ran to its end
            obs = np.empty(fast.frame_shape, np.uint8)
            fetch(obs)
            if self.max_pool and t == k - 1:
                np.maximum(frames[1], obs, out=obs)
        obs = obs.reshape(self.observation_space.shape)
        return obs, total, terminated, truncated, fast.info()
