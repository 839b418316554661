"""gymkit envs and wrapper stacks survive pickle, deepcopy and ``gym.make(env.spec)``.

What other libraries rely on: ``AsyncVectorEnv``, SB3's ``SubprocVecEnv`` and RLlib
pickle envs or their makers; evaluation code deep-copies them; and
``env.spec`` (with ``additional_wrappers``, recorded because every gymkit wrapper
inherits ``gym.utils.RecordConstructorArgs``) must re-make the whole stack.

Pure-Python envs keep their state through pickle/deepcopy, so a clone taken
mid-episode continues step for step. ALE envs pickle through ``EzPickle``: the
clone is a fresh emulator, so after ``reset(seed=...)`` it must replay what the
original does after the same reset.
"""

from __future__ import annotations

import copy
import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from readme_snippets import run_use_with_snippet

import gymkit  # noqa: F401  (registers the ids)
from gymkit.wrappers import (
    ClipReward,
    DiscretizeAction,
    FrameStackObservation,
    RepeatAction,
    make_atari,
)


def wrapped_toy_mdp():
    return ClipReward(RepeatAction(gym.make("ToyMDP-v0", max_episode_steps=20), 2))


def wrapped_cartpole():
    env = gym.make("ShapedCartPole-v1", shaping="potential", gamma=0.9)
    env = RepeatAction(env, 2, max_pool=True)
    return ClipReward(FrameStackObservation(env, 3, padding="zero"))


def wrapped_pendulum():
    return FrameStackObservation(DiscretizeAction(gym.make("Pendulum-v1"), 5), 2)


def atari_gymnasium():
    return make_atari("Breakout", "gymnasium")


def atari_sb3():
    return make_atari("Breakout", "sb3")


PURE = {"ToyMDP": wrapped_toy_mdp, "ShapedCartPole": wrapped_cartpole, "Pendulum": wrapped_pendulum}
ATARI = {"atari-gymnasium": atari_gymnasium, "atari-sb3": atari_sb3}
ALL = {**PURE, **ATARI}
GYMKIT_WRAPPERS = {
    "ToyMDP": ["RepeatAction", "ClipReward"],
    "ShapedCartPole": ["RepeatAction", "FrameStackObservation", "ClipReward"],
    "Pendulum": ["DiscretizeAction", "FrameStackObservation"],
    "atari-gymnasium": [
        "GrayscaleObservation",
        "NoopReset",
        "RepeatAction",
        "ResizeObservation",
        "FrameStackObservation",
    ],
    "atari-sb3": [
        "NoopReset",
        "RepeatAction",
        "EpisodicLife",
        "FireReset",
        "GrayscaleObservation",
        "ResizeObservation",
        "ClipReward",
        "FrameStackObservation",
    ],
}
STEPS = {
    "ToyMDP": 60,
    "ShapedCartPole": 60,
    "Pendulum": 30,
    "atari-gymnasium": 150,
    "atari-sb3": 150,
}


def trajectory(env, actions, reset_seed=None) -> list[tuple]:
    """Step `env` (already reset unless `reset_seed` is given), resetting after each end."""
    out = []
    if reset_seed is not None:
        obs, info = env.reset(seed=reset_seed)
        out.append(("reset", np.array(obs), None, None, None))
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        out.append(("step", np.array(obs), float(reward), terminated, truncated))
        if terminated or truncated:
            obs, info = env.reset()
            out.append(("reset", np.array(obs), None, None, None))
    return out


def assert_same(what: str, case: str, got: list[tuple], expected: list[tuple]) -> None:
    for t, (g, e) in enumerate(zip(got, expected, strict=False)):  # lengths: below
        where = f"{what} of {case}, record {t} ({e[0]})"
        assert g[0] == e[0], f"{where}: the copy did a {g[0]}, the original a {e[0]}"
        same_obs = np.array_equal(g[1], e[1])
        assert same_obs, f"{where}: the copy's observation differs from the original's"
        assert g[2:] == e[2:], f"{where}: reward/flags {g[2:]}, the original's {e[2:]}"
    assert len(got) == len(expected), f"{what} of {case}: {len(got)} vs {len(expected)} records"


def actions_for(env, case, seed=0) -> list:
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(STEPS[case])]


def wrapper_names(env) -> list[str]:
    names = []
    while isinstance(env, gym.Wrapper):
        names.append(type(env).__name__)
        env = env.env
    return names[::-1] + [type(env).__name__]


CLONERS = {
    "pickle": lambda env: pickle.loads(pickle.dumps(env)),
    "deepcopy": copy.deepcopy,
}


@pytest.mark.parametrize("how", list(CLONERS))
@pytest.mark.parametrize("case", list(PURE))
def test_a_copy_taken_mid_episode_continues_step_for_step(case, how):
    env = PURE[case]()
    actions = actions_for(env, case)
    env.reset(seed=7)
    for action in actions[:5]:
        env.step(action)
    clone = CLONERS[how](env)
    assert wrapper_names(clone) == wrapper_names(env)
    assert_same(how, case, trajectory(clone, actions), trajectory(env, actions))


@pytest.mark.parametrize("how", list(CLONERS))
@pytest.mark.parametrize("case", list(ATARI))
def test_a_copied_atari_preset_replays_the_original_after_a_seeded_reset(case, how):
    env = ATARI[case]()
    actions = actions_for(env, case)
    env.reset(seed=3)
    for action in actions[:10]:  # mid-episode: every wrapper holds some state
        env.step(action)
    clone = CLONERS[how](env)
    assert wrapper_names(clone) == wrapper_names(env)
    assert_same(
        f"{how} + reset(seed=5)",
        case,
        trajectory(clone, actions, reset_seed=5),
        trajectory(env, actions, reset_seed=5),
    )


@pytest.mark.parametrize("case", list(ATARI))
def test_a_seeded_reset_restarts_an_atari_preset(case):
    # Gymnasium's reset contract: reset(seed=s) starts the same episode whatever came before
    env = ATARI[case]()
    actions = actions_for(env, case)
    first = trajectory(env, actions[:20], reset_seed=5)
    again = trajectory(env, actions[:20], reset_seed=5)  # 20 steps in: lives left
    assert_same("reset(seed=5) after a partial episode", case, again, first)


@pytest.mark.parametrize("via", ["spec", "json"])
@pytest.mark.parametrize("case", list(ALL))
def test_gym_make_of_the_spec_remakes_the_whole_stack(case, via):
    env = ALL[case]()
    spec = env.spec
    recorded = [w.name for w in spec.additional_wrappers]
    gymkit_recorded = [name for name in recorded if name in GYMKIT_WRAPPERS[case]]
    assert gymkit_recorded == GYMKIT_WRAPPERS[case], (
        f"Gymnasium env.spec of {case}: additional_wrappers {recorded} do not record the "
        f"gymkit stack {GYMKIT_WRAPPERS[case]}"
    )
    for wrapper_spec in spec.additional_wrappers:
        if wrapper_spec.name in GYMKIT_WRAPPERS[case]:
            assert wrapper_spec.entry_point.startswith("gymkit.wrappers."), wrapper_spec

    if via == "json":
        spec = EnvSpec.from_json(spec.to_json())
    spec = pickle.loads(pickle.dumps(spec))  # what remote workers receive
    remade = gym.make(spec)
    assert wrapper_names(remade) == wrapper_names(env), (
        f"Gymnasium gym.make(env.spec) of {case} via {via}: the stack is "
        f"{wrapper_names(remade)}, the original {wrapper_names(env)}"
    )
    assert remade.observation_space == env.observation_space
    assert remade.action_space == env.action_space
    actions = actions_for(env, case)
    assert_same(
        f"gym.make(env.spec) via {via}",
        case,
        trajectory(remade, actions, reset_seed=11),
        trajectory(env, actions, reset_seed=11),
    )


def test_use_with_snippet_runs():
    namespace = run_use_with_snippet("Pickle, deepcopy and specs")
    assert namespace["obs"].shape == (4, 84, 84)
    assert wrapper_names(namespace["same_stack"]) == wrapper_names(namespace["env"])
