"""The ALE fast path of `RepeatAction`: skipped frames go straight to the emulator.

When `RepeatAction` sits on an ALE env through wrappers that do nothing on
``step`` (Gymnasium's order and checker wrappers, `NoopReset`, `FireReset`) and
at most a `GrayscaleObservation`, stepping each frame through Python wrappers and
fetching a screen per frame is wasted work: only the last two screens are used.
`AleFrameSkipper` then calls ``ale.act`` directly and fetches only those screens
into preallocated buffers, with exactly the generic path's results (a test drives
both on several games and seeds and compares every array).

`plan_fast_path` decides, and says why not when it cannot.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker

from gymkit.wrappers.atari import FireReset, NoopReset
from gymkit.wrappers.transform_observation import GrayscaleObservation

__all__ = ["AleFrameSkipper", "plan_fast_path"]

# Wrappers whose step() passes action, observation, reward, flags and info through.
_STEP_TRANSPARENT = (OrderEnforcing, PassiveEnvChecker, NoopReset, FireReset)


def plan_fast_path(env: gym.Env) -> tuple[AleFrameSkipper | None, str]:
    """Return (skipper, reason): a skipper when `env` can be stepped on the emulator directly.

    Args:
        env: the env below a `RepeatAction`.
    """
    gray = False
    layer = env
    while isinstance(layer, gym.Wrapper):
        if isinstance(layer, GrayscaleObservation):
            if gray:
                return None, "generic: two GrayscaleObservation wrappers below RepeatAction"
            gray = True
        elif not isinstance(layer, _STEP_TRANSPARENT):
            return None, f"generic: {type(layer).__name__} below RepeatAction changes step()"
        layer = layer.env
    base = layer
    if not hasattr(base, "ale") or type(base).__name__ != "AtariEnv":
        return None, f"generic: the base env is {type(base).__name__}, not ALE's AtariEnv"
    if getattr(base, "_frameskip", None) != 1:
        return None, "generic: the ALE env skips frames itself"
    if getattr(base, "continuous", False) or getattr(base, "sound_obs", False):
        return None, "generic: continuous actions or sound observations"
    obs_type = getattr(base, "_obs_type", None)
    if obs_type not in ("rgb", "grayscale"):
        return None, f"generic: obs_type {obs_type!r} is not an image"
    gray = gray or obs_type == "grayscale"
    return AleFrameSkipper(base, gray), "ale-fast"


class AleFrameSkipper:
    """Runs the frames of one agent step on ALE directly, fetching only the screens used.

    Args:
        atari_env: ale_py's AtariEnv (``frameskip=1``).
        gray: fetch ALE's gray screen (else RGB).
    """

    def __init__(self, atari_env: Any, gray: bool):
        self.atari_env = atari_env
        self.gray = gray
        ale = atari_env.ale
        h, w = ale.getScreenDims()
        self.frame_shape = (h, w) if gray else (h, w, 3)
        self._bind(ale)

    def _bind(self, ale) -> None:
        self.ale = ale
        self.act = ale.act
        self.game_over = ale.game_over
        self.fetch = ale.getScreenGrayscale if self.gray else ale.getScreenRGB
        self.action_set = self.atari_env._action_set

    def info(self) -> dict[str, int]:
        """The info ALE's AtariEnv reports after a step."""
        ale = self.ale
        return {
            "lives": ale.lives(),
            "episode_frame_number": ale.getEpisodeFrameNumber(),
            "frame_number": ale.getFrameNumber(),
        }

    def flags(self) -> tuple[bool, bool]:
        """(terminated, truncated) as AtariEnv computes them."""
        return self.ale.game_over(with_truncation=False), self.ale.game_truncated()

    def __getstate__(self):
        return {"atari_env": self.atari_env, "gray": self.gray, "frame_shape": self.frame_shape}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._bind(self.atari_env.ale)
