"""Wrappers for the usual Atari companions: reset protocols and life loss.

- `NoopReset`: start episodes after a random number (1..noop_max) of no-ops.
- `FireReset`: press FIRE (then action 2) on reset, for games frozen until fired.
- `TerminateOnLifeLoss`: terminated when a life is lost; ``reset()`` really resets
  (Gymnasium's ``terminal_on_life_loss=True``).
- `EpisodicLife`: terminated when a life is lost, but ``reset()`` continues the same
  game until the real game over (SB3's ``EpisodicLifeEnv``, DeepMind's DQN protocol).

Both life-loss wrappers set ``info["life_lost"]`` on every step, and `EpisodicLife`
sets ``info["game_over"]`` and, on reset, ``info["reset"]`` (``"game"`` or ``"life"``),
so a loop can always tell which happened. They read ``info["lives"]``, which ALE
envs provide.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from gymkit.common.checks import positive_int

__all__ = ["NoopReset", "FireReset", "TerminateOnLifeLoss", "EpisodicLife"]


def _lives(owner: str, info: dict[str, Any]) -> int:
    try:
        return int(info["lives"])
    except KeyError:
        raise KeyError(
            f"{owner}: the env's info has no 'lives' key; life-loss wrappers need an env "
            "that reports lives (ALE envs do)"
        ) from None


def action_meanings(env: gym.Env) -> list[str] | None:
    """The env's action meanings (ALE and most Atari-like envs), or None if it has none."""
    getter = getattr(env.unwrapped, "get_action_meanings", None)
    return list(getter()) if callable(getter) else None


class NoopReset(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Start each episode after a random number of no-op actions, 1 to ``noop_max``.

    The count is drawn from the env's own generator (``env.unwrapped.np_random``),
    so a seeded ``reset`` gives the same start, as in Gymnasium's
    ``AtariPreprocessing`` and SB3's ``NoopResetEnv``. An episode that ends during
    the no-ops is reset again. The info returned is the reset info updated with each
    no-op step's info (Gymnasium's rule). Place it below `RepeatAction`: the no-ops
    are single emulator frames. On an ALE env (through pass-through wrappers), all
    no-ops but the last go straight to the emulator, with no screen fetched; ``path``
    says whether that runs (``"ale-fast"``) or not (``"generic: <why>"``).

    Example:
        >>> import gymnasium as gym, ale_py
        >>> import gymkit.wrappers as gw
        >>> gym.register_envs(ale_py)
        >>> env = gw.NoopReset(gym.make("ALE/Breakout-v5", frameskip=1), noop_max=30)
        >>> obs, info = env.reset(seed=0)
        >>> info["episode_frame_number"] > 0
        True

    Args:
        env: an env whose action ``noop_action`` does nothing (checked against the
            action meanings where the env has them).
        noop_max: the largest number of no-ops (>= 1).
        noop_action: the no-op action (0 on ALE).
    """

    def __init__(self, env: gym.Env, noop_max: int = 30, noop_action: int = 0):
        gym.utils.RecordConstructorArgs.__init__(self, noop_max=noop_max, noop_action=noop_action)
        gym.Wrapper.__init__(self, env)
        self.noop_max = positive_int("NoopReset", "noop_max", noop_max)
        self.noop_action = noop_action
        if not env.action_space.contains(noop_action):
            raise ValueError(
                f"NoopReset: `noop_action` {noop_action!r} is not in the action space "
                f"{env.action_space}"
            )
        meanings = action_meanings(env)
        if meanings is not None and meanings[noop_action] != "NOOP":
            raise ValueError(
                f"NoopReset: action {noop_action} means {meanings[noop_action]!r}, expected 'NOOP'"
            )
        from gymkit.wrappers.ale_fast_path import plan_fast_path  # it imports this module

        self._fast, self.path = plan_fast_path(env)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset, then take 1..noop_max no-ops."""
        obs, info = self.env.reset(seed=seed, options=options)
        noops = self.env.unwrapped.np_random.integers(1, self.noop_max + 1)
        fast = self._fast
        for k in range(noops):
            if fast is not None and k < noops - 1:
                # every step's info has the same keys, so the last no-op's update,
                # made through the env below, leaves `info` as the generic path does
                fast.act(fast.action_set[self.noop_action])
                if fast.game_over():
                    obs, info = self.env.reset(seed=seed, options=options)
                continue
            obs, _, terminated, truncated, step_info = self.env.step(self.noop_action)
            info.update(step_info)
            if terminated or truncated:
                obs, info = self.env.reset(seed=seed, options=options)
        return obs, info


class FireReset(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Press FIRE, then action 2, after each reset (SB3's ``FireResetEnv``).

    For games that stay frozen until the player fires (Breakout, ...). If either
    press ends the episode, the env is reset again and that observation returned
    (SB3 returns the stale frame of the press there).

    Example:
        >>> import gymnasium as gym, ale_py
        >>> import gymkit.wrappers as gw
        >>> gym.register_envs(ale_py)
        >>> env = gw.FireReset(gym.make("ALE/Breakout-v5"))
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape
        (210, 160, 3)

    Args:
        env: an env whose action 1 means FIRE and which has at least 3 actions.
    """

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        meanings = action_meanings(env)
        if meanings is None or len(meanings) < 3 or meanings[1] != "FIRE":
            raise ValueError(
                "FireReset: needs an env whose action 1 means 'FIRE' and with at least 3 "
                f"actions, got action meanings {meanings}"
            )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset, then press FIRE and action 2."""
        self.env.reset(seed=seed, options=options)
        for action in (1, 2):
            obs, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                obs, info = self.env.reset(seed=seed, options=options)
        return obs, info


class TerminateOnLifeLoss(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """End the episode (``terminated=True``) when a life is lost; ``reset()`` starts a new game.

    Gymnasium's ``AtariPreprocessing(terminal_on_life_loss=True)``: placed below
    `RepeatAction` it checks every emulator frame (Gymnasium's behaviour), above it
    once per agent step. ``info["life_lost"]`` says whether this step lost a life.

    Example:
        >>> import gymnasium as gym, ale_py
        >>> import gymkit.wrappers as gw
        >>> gym.register_envs(ale_py)
        >>> env = gw.TerminateOnLifeLoss(gym.make("ALE/Breakout-v5"))
        >>> _ = env.reset(seed=0)
        >>> env.step(0)[4]["life_lost"]
        False

    Args:
        env: an env reporting ``info["lives"]``.
    """

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.lives = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the game and remember the lives."""
        obs, info = self.env.reset(seed=seed, options=options)
        self.lives = _lives("TerminateOnLifeLoss", info)
        return obs, info

    def step(self, action):
        """Step; a lost life terminates."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = _lives("TerminateOnLifeLoss", info)
        info["life_lost"] = lives < self.lives
        self.lives = lives
        return obs, reward, terminated or info["life_lost"], truncated, info


class EpisodicLife(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """A lost life ends the episode for the agent, but the game goes on until game over.

    SB3's ``EpisodicLifeEnv`` (DeepMind's DQN protocol): ``terminated=True`` when a
    life is lost (``0 < lives < previous``); the next ``reset()`` does *not* reset the
    game, it takes one no-op step and continues. Only after a real game over does
    ``reset()`` reset. ``info["life_lost"]`` and ``info["game_over"]`` say which end
    this was; the reset info says ``info["reset"] == "life"`` or ``"game"``. A reset
    with a ``seed`` always starts a new game (SB3 would ignore the seed). Use
    `TerminateOnLifeLoss` when ``reset()`` must really reset (e.g. for evaluation).

    Example:
        >>> import gymnasium as gym, ale_py
        >>> import gymkit.wrappers as gw
        >>> gym.register_envs(ale_py)
        >>> env = gw.EpisodicLife(gym.make("ALE/Breakout-v5"))
        >>> env.reset(seed=0)[1]["reset"]
        'game'

    Args:
        env: an env reporting ``info["lives"]``.
    """

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.lives = 0
        self.game_over = True

    def step(self, action):
        """Step; a lost life terminates the agent's episode, not the game."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = terminated or truncated
        lives = _lives("EpisodicLife", info)
        life_lost = 0 < lives < self.lives
        self.lives = lives
        info["life_lost"] = life_lost
        info["game_over"] = self.game_over
        return obs, reward, terminated or life_lost, truncated, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset the game after a game over; after a lost life, take a no-op and go on."""
        kind = "game"
        if self.game_over or seed is not None:  # a seed asks for that seed's game
            obs, info = self.env.reset(seed=seed, options=options)
        else:
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset(seed=seed, options=options)
            else:
                kind = "life"
        self.lives = _lives("EpisodicLife", info)
        info["reset"] = kind
        return obs, info
