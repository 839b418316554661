"""Gymnasium's vector API over every gymkit env and the Atari presets.

Each vector env (``SyncVectorEnv`` and ``AsyncVectorEnv`` with shared memory, under
both autoreset modes of Gymnasium 1.x) is compared step for step with single envs
built by the same function, seeded the same way (sub-env ``i`` gets ``seed + i``) and
driven by hand with the same actions, resetting as the mode says. The frame stacks
are also checked on their own: after every (auto)reset, no frame of the previous
episode may appear in the stack.
"""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv
from readme_snippets import run_use_with_snippet

import gymkit  # noqa: F401  (registers the ids)
from gymkit.wrappers import make_atari

MODES = [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP]
VECTOR_CLASSES = {"sync": SyncVectorEnv, "async": AsyncVectorEnv}
NUM_ENVS = 2
SEED = 123


def make_toy_mdp():
    # a short time limit so that a few dozen steps cross several episode ends
    return gym.make("ToyMDP-v0", max_episode_steps=7)


def make_cartpole():
    return gym.make("ShapedCartPole-v1")


def make_preset(profile: str):
    # ALE truncates after 160 frames (40 agent steps): episodes end within the test
    return make_atari("Breakout", profile, env_kwargs={"max_num_frames_per_episode": 160})


# case -> (env_fn, number of actions, vector steps)
ENV_FNS = {
    "ToyMDP-v0": (make_toy_mdp, 3, 40),
    "ShapedCartPole-v1": (make_cartpole, 2, 60),
    "atari-gymnasium": (functools.partial(make_preset, "gymnasium"), 4, 90),
    "atari-sb3": (functools.partial(make_preset, "sb3"), 4, 90),
}


# --------------------------------------------------------------------------- reference


def _copy(value):
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


def reference_run(env_fn, seed: int, actions: list[int], mode: AutoresetMode) -> list[dict]:
    """Drive one env by hand as a vector env of `mode` would; one record per vector step."""
    env = env_fn()
    obs, info = env.reset(seed=seed)
    records = [dict(obs=_copy(obs), info=info, reset=True)]
    done = False
    for action in actions:
        if mode == AutoresetMode.NEXT_STEP and done:
            obs, info = env.reset()
            records.append(
                dict(
                    obs=_copy(obs),
                    reward=0.0,
                    terminated=False,
                    truncated=False,
                    info=info,
                    reset=True,
                )
            )
            done = False
            continue
        obs, reward, terminated, truncated, info = env.step(action)
        record = dict(
            obs=_copy(obs),
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            info=info,
            reset=False,
        )
        done = terminated or truncated
        if mode == AutoresetMode.SAME_STEP and done:
            record["final_obs"], record["final_info"] = record["obs"], info
            obs, info = env.reset()
            record.update(obs=_copy(obs), info=info, reset=True)
        records.append(record)
    env.close()
    return records


def case_actions(case: str) -> np.ndarray:
    _, n_actions, num_steps = ENV_FNS[case]
    return np.random.default_rng(0).integers(0, n_actions, size=(num_steps, NUM_ENVS))


@functools.cache
def case_references(case: str, mode: AutoresetMode) -> list[list[dict]]:
    # shared by the sync and async tests: making an ALE env costs ~0.4 s per ROM load
    env_fn, actions = ENV_FNS[case][0], case_actions(case)
    return [reference_run(env_fn, SEED + i, actions[:, i].tolist(), mode) for i in range(NUM_ENVS)]


def vector_run(
    vector_cls, env_fn, actions: np.ndarray, mode: AutoresetMode, **kwargs
) -> list[dict]:
    if vector_cls is AsyncVectorEnv:
        kwargs.setdefault("shared_memory", True)
    envs = vector_cls([env_fn] * NUM_ENVS, autoreset_mode=mode, **kwargs)
    try:
        if vector_cls is AsyncVectorEnv:
            assert envs.shared_memory, "Gymnasium AsyncVectorEnv: shared memory is off"
        obs, info = envs.reset(seed=SEED)
        steps = [dict(obs=obs.copy(), info=info)]
        for action in actions:
            obs, reward, terminated, truncated, info = envs.step(action)
            steps.append(
                dict(
                    obs=obs.copy(),
                    reward=reward,
                    terminated=terminated,
                    truncated=truncated,
                    info=info,
                )
            )
    finally:
        envs.close()
    return steps


# --------------------------------------------------------------------------- checks


def _assert_info_matches(where: str, vector_info: dict, i: int, expected: dict) -> None:
    for key, value in expected.items():
        assert key in vector_info and vector_info[f"_{key}"][i], (
            f"Gymnasium vector ({where}): info[{key!r}] of sub-env {i} is missing"
        )
        got = vector_info[key][i]
        same = np.array_equal(got, value)
        assert same, (
            f"Gymnasium vector ({where}): info[{key!r}] of sub-env {i} is {got!r}, "
            f"the single env gave {value!r}"
        )


def assert_same_as_reference(
    where: str, steps: list[dict], refs: list[list[dict]], mode: AutoresetMode
) -> int:
    """Compare every vector step with the hand-driven envs; return the episode ends seen."""
    ends = 0
    for t, step in enumerate(steps):
        for i, ref in enumerate(refs):
            expected = ref[t]
            at = f"{where}, step {t}, sub-env {i}"
            same = np.array_equal(step["obs"][i], expected["obs"])
            assert same, (
                f"Gymnasium vector ({at}): the observation differs from a single env driven "
                f"by hand with the same seed and actions"
                + (" (just after an autoreset)" if expected["reset"] and t else "")
            )
            _assert_info_matches(at, step["info"], i, expected["info"])
            if t == 0:
                continue
            assert step["reward"][i] == pytest.approx(expected["reward"]), (
                f"Gymnasium vector ({at}): reward {step['reward'][i]} != {expected['reward']}"
            )
            assert (bool(step["terminated"][i]), bool(step["truncated"][i])) == (
                expected["terminated"],
                expected["truncated"],
            ), f"Gymnasium vector ({at}): terminated/truncated differ from the single env"
            if "final_obs" in expected:
                ends += 1
                info = step["info"]
                assert "final_obs" in info and info["_final_obs"][i], (
                    f"Gymnasium vector ({at}): SAME_STEP autoreset gave no info['final_obs']"
                )
                same = np.array_equal(info["final_obs"][i], expected["final_obs"])
                assert same, (
                    f"Gymnasium vector ({at}): info['final_obs'] is not the episode's last "
                    f"observation"
                )
                _assert_info_matches(
                    at + " final_info", info["final_info"], i, expected["final_info"]
                )
            elif mode == AutoresetMode.NEXT_STEP and expected["reset"]:
                ends += 1
    return ends


def stacked_frames(obs: np.ndarray, layout: str, n: int) -> list[np.ndarray]:
    if layout == "channels_first":
        return [obs[k] for k in range(n)]
    return [obs[..., k] for k in range(n)]


def assert_no_leak_across_episodes(
    where: str, records: list[dict], layout: str, padding: str, n: int
) -> None:
    """The first n-1 stacks of an episode hold only its first frame and the padding."""
    since_reset, first = None, None
    for t, record in enumerate(records):
        frames = stacked_frames(record["obs"], layout, n)
        if record["reset"]:
            since_reset, first = 0, frames[-1]
        else:
            since_reset += 1
        if since_reset >= n - 1:
            continue
        pad = n - 1 - since_reset  # frames older than this episode's first one
        for k in range(pad):
            expected = np.zeros_like(first) if padding == "zero" else first
            same = np.array_equal(frames[k], expected)
            assert same, (
                f"gymkit FrameStackObservation ({where}, step {t}): frame {k} of the stack, "
                f"{since_reset} step(s) into an episode, is not the {padding!r} padding: "
                f"a frame leaked from the previous episode"
            )
        same = np.array_equal(frames[pad], first)
        assert same, (
            f"gymkit FrameStackObservation ({where}, step {t}): the episode's first frame is "
            f"not at position {pad} of the stack"
        )


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("vector", list(VECTOR_CLASSES))
@pytest.mark.parametrize("case", list(ENV_FNS))
def test_vector_env_matches_single_envs_across_autoresets(case, vector, mode):
    env_fn, actions = ENV_FNS[case][0], case_actions(case)
    where = f"{vector} {mode.value} {case}"

    steps = vector_run(VECTOR_CLASSES[vector], env_fn, actions, mode)
    refs = case_references(case, mode)
    ends = assert_same_as_reference(where, steps, refs, mode)
    assert ends >= NUM_ENVS, (
        f"Gymnasium vector ({where}): only {ends} episode end(s) in {len(actions)} steps; the "
        f"test needs some to check autoreset"
    )
    if case.startswith("atari"):
        profile = case.split("-", 1)[1]
        layout = "channels_first" if profile == "gymnasium" else "channels_last"
        padding = "reset" if profile == "gymnasium" else "zero"
        for i in range(NUM_ENVS):
            vector_records = [
                dict(obs=step["obs"][i], reset=ref["reset"])
                for step, ref in zip(steps, refs[i], strict=True)
            ]
            assert_no_leak_across_episodes(
                f"{where}, sub-env {i}", vector_records, layout, padding, 4
            )


def test_module_prefixed_id_works_in_fresh_worker_processes():
    # "spawn" workers start from a fresh interpreter that has not imported gymkit:
    # the "gymkit:" prefix makes gym.make import it (and so register the ids) there
    env_fn = functools.partial(gym.make, "gymkit:ToyMDP-v0", max_episode_steps=7)
    actions = case_actions("ToyMDP-v0")
    mode = AutoresetMode.NEXT_STEP
    steps = vector_run(AsyncVectorEnv, env_fn, actions, mode, context="spawn")
    refs = [reference_run(env_fn, SEED + i, actions[:, i].tolist(), mode) for i in range(NUM_ENVS)]
    assert_same_as_reference("async spawn 'gymkit:ToyMDP-v0'", steps, refs, mode)


def test_use_with_snippet_runs():
    namespace = run_use_with_snippet("Gymnasium vector envs")
    assert namespace["obs"].shape == (2, 4, 84, 84), (
        f"Gymnasium vector snippet: observations {namespace['obs'].shape}"
    )
