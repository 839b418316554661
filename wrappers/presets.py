"""One-call Atari preprocessing stacks built from gymkit's wrappers.

- `AtariProfile`: the settings of a stack (a frozen dataclass).
- `PROFILES`: ``"gymnasium"``, ``"sb3"`` and ``"machado2018"``.
- `wrap_atari`: apply a profile to an ALE env you already made.
- `make_atari`: make the game's env the way its profile expects, then wrap it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import gymnasium as gym

from gymkit.common.checks import ale_env
from gymkit.wrappers.atari import (
    EpisodicLife,
    FireReset,
    NoopReset,
    TerminateOnLifeLoss,
    action_meanings,
)
from gymkit.wrappers.stateful_action import RepeatAction
from gymkit.wrappers.stateful_observation import FrameStackObservation
from gymkit.wrappers.transform_observation import GrayscaleObservation, ResizeObservation
from gymkit.wrappers.transform_reward import ClipReward

__all__ = ["AtariProfile", "PROFILES", "wrap_atari", "make_atari"]


@dataclass(frozen=True)
class AtariProfile:
    """The settings of an Atari preprocessing stack.

    Attributes:
        env_id: the env id to make, ``{game}`` filled with the game's name.
        env_kwargs: keyword arguments for ``gym.make`` (``frameskip=1`` always: the
            stack repeats actions itself).
        noop_max: no-ops on reset (0 for none).
        frame_skip: frames per agent step.
        max_pool: max of the last two frames of each step.
        gray: ``"before_pool"`` pools ALE's gray screens (Gymnasium), ``"after_pool"``
            pools RGB frames and converts after (SB3), ``None`` keeps RGB.
        screen_size: the side of the square observation.
        life_loss: ``None``, ``"terminate"`` (`TerminateOnLifeLoss`, checked per frame
            as Gymnasium does) or ``"episodic"`` (`EpisodicLife`, per agent step as SB3).
        fire_reset: `FireReset` when the game has a FIRE action.
        clip_reward: `ClipReward` (sign of the reward).
        stack_size: frames stacked (0 for no stack).
        stack_layout: ``"channels_first"`` or ``"channels_last"``.
        stack_padding: ``"reset"`` or ``"zero"``.
        terminal_frame: `RepeatAction`'s rule for a step that ends mid-repeat.
    """

    env_id: str = "ALE/{game}-v5"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    noop_max: int = 30
    frame_skip: int = 4
    max_pool: bool = True
    gray: Literal["before_pool", "after_pool"] | None = "before_pool"
    screen_size: int = 84
    life_loss: Literal["terminate", "episodic"] | None = None
    fire_reset: bool = False
    clip_reward: bool = False
    stack_size: int = 4
    stack_layout: Literal["channels_first", "channels_last"] = "channels_first"
    stack_padding: Literal["reset", "zero"] = "reset"
    terminal_frame: Literal["last", "gymnasium", "sb3"] = "last"


PROFILES: dict[str, AtariProfile] = {
    # gymnasium.wrappers.AtariPreprocessing(noop_max=30, frame_skip=4, screen_size=84,
    # terminal_on_life_loss=False) + FrameStackObservation(4), on ALE/{game}-v5 with
    # frameskip=1 (v5 keeps its sticky actions, 0.25).
    "gymnasium": AtariProfile(terminal_frame="gymnasium"),
    # stable_baselines3 AtariWrapper defaults on {game}NoFrameskip-v4 + VecFrameStack(4).
    "sb3": AtariProfile(
        env_id="{game}NoFrameskip-v4",
        gray="after_pool",
        life_loss="episodic",
        fire_reset=True,
        clip_reward=True,
        stack_layout="channels_last",
        stack_padding="zero",
        terminal_frame="sb3",
    ),
    # Machado et al. (2018), Revisiting the ALE: sticky actions 0.25, the full action
    # set, no life-loss signal, no no-op starts (sticky actions supply the randomness).
    "machado2018": AtariProfile(
        env_kwargs={"repeat_action_probability": 0.25, "full_action_space": True},
        noop_max=0,
    ),
}


def _profile(profile: str | AtariProfile, overrides: dict[str, Any]) -> AtariProfile:
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(
                f"make_atari: `profile` must be one of {tuple(PROFILES)} or an AtariProfile, "
                f"got {profile!r}"
            )
        profile = PROFILES[profile]
    elif not isinstance(profile, AtariProfile):
        raise TypeError(f"make_atari: `profile` must be a name or an AtariProfile, got {profile!r}")
    names = {f.name for f in dataclasses.fields(AtariProfile)}
    unknown = set(overrides) - names
    if unknown:
        raise TypeError(
            f"make_atari: unknown profile settings {sorted(unknown)}; expected some of "
            f"{sorted(names)}"
        )
    return dataclasses.replace(profile, **overrides)


def wrap_atari(env: gym.Env, profile: str | AtariProfile = "gymnasium", **overrides) -> gym.Env:
    """Apply an Atari preprocessing profile to an ALE env made with ``frameskip=1``.

    Example:
        >>> import gymnasium as gym, ale_py
        >>> from gymkit.wrappers import wrap_atari
        >>> gym.register_envs(ale_py)
        >>> env = wrap_atari(gym.make("ALE/Pong-v5", frameskip=1), "gymnasium")
        >>> env.observation_space.shape
        (4, 84, 84)

    Args:
        env: an ALE env (``frameskip=1``).
        profile: a name in `PROFILES` or an `AtariProfile`.
        **overrides: fields of `AtariProfile` to change, e.g. ``stack_size=0``.
    """
    p = _profile(profile, overrides)
    ale_env("wrap_atari", env)
    already_gray = len(env.observation_space.shape) == 2  # made with obs_type="grayscale"
    if p.gray == "before_pool" and not already_gray:
        env = GrayscaleObservation(env, source="ale")
    if p.noop_max > 0:
        env = NoopReset(env, noop_max=p.noop_max)
    if p.life_loss == "terminate":
        env = TerminateOnLifeLoss(env)
    if p.frame_skip > 1 or p.terminal_frame == "gymnasium":
        env = RepeatAction(env, p.frame_skip, max_pool=p.max_pool, terminal_frame=p.terminal_frame)
    if p.life_loss == "episodic":
        env = EpisodicLife(env)
    if p.fire_reset and "FIRE" in (action_meanings(env) or ()):
        env = FireReset(env)
    if p.gray == "after_pool" and not already_gray:
        env = GrayscaleObservation(env, keep_dim=p.stack_layout == "channels_last")
    env = ResizeObservation(env, p.screen_size)
    if p.clip_reward:
        env = ClipReward(env)
    if p.stack_size > 0:
        env = FrameStackObservation(
            env, p.stack_size, layout=p.stack_layout, padding=p.stack_padding
        )
    return env


def make_atari(
    game: str,
    profile: str | AtariProfile = "gymnasium",
    *,
    render_mode: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    **overrides,
) -> gym.Env:
    """Make an Atari game with a preprocessing profile, e.g. ``make_atari("Breakout")``.

    Example:
        >>> from gymkit.wrappers import make_atari
        >>> env = make_atari("Breakout", profile="sb3")
        >>> env.observation_space.shape
        (84, 84, 4)
        >>> make_atari("Pong").observation_space.shape
        (4, 84, 84)

    Args:
        game: the game's name (``"Breakout"``) or a full env id (``"ALE/Breakout-v5"``).
        profile: a name in `PROFILES` or an `AtariProfile`.
        render_mode: passed to ``gym.make`` (``"rgb_array"`` to record videos).
        env_kwargs: extra ``gym.make`` keyword arguments, over the profile's.
        **overrides: fields of `AtariProfile` to change.
    """
    import ale_py

    gym.register_envs(ale_py)
    p = _profile(profile, overrides)
    env_id = game if ("/" in game or "-v" in game) else p.env_id.format(game=game)
    kwargs = {**p.env_kwargs, **(env_kwargs or {}), "frameskip": 1}
    env = gym.make(env_id, render_mode=render_mode, **kwargs)
    return wrap_atari(env, p)
