"""The ALE fast paths of RepeatAction and NoopReset give exactly the generic path's results."""

import copy

import gymnasium as gym
import numpy as np
import pytest

from gymkit.wrappers import PROFILES, make_atari

ale_py = pytest.importorskip("ale_py")


def _run(env, seed, steps):
    out = []
    obs, info = env.reset(seed=seed)
    out.append((obs, info))
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        step = env.step(int(rng.integers(env.action_space.n)))
        out.append(step)
        if step[2] or step[3]:
            out.append(env.reset())
    return out


GAMES = [("Breakout", 0), ("Pong", 1), ("SpaceInvaders", 2), ("MsPacman", 3), ("Seaquest", 4)]
CASES = [(p, {}) for p in PROFILES] + [("gymnasium", {"terminal_frame": "last"})]


@pytest.mark.slow
@pytest.mark.parametrize("profile, overrides", CASES)
@pytest.mark.parametrize("game, seed", GAMES)
def test_fast_path_equals_generic_path(profile, overrides, game, seed):
    fast = make_atari(game, profile, **overrides)
    generic = make_atari(game, profile, **overrides)
    layer, forced = generic, 0
    while isinstance(layer, gym.Wrapper):  # RepeatAction's and NoopReset's fast paths
        if getattr(layer, "_fast", None) is not None:
            layer._fast, layer.path = None, "generic: forced by the test"
            forced += 1
        layer = layer.env
    assert forced == (2 if PROFILES[profile].noop_max else 1)
    a, b = _run(fast, seed, 600), _run(generic, seed, 600)
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        assert np.array_equal(x[0], y[0]), f"{game}/{profile}: observation {i} differs"
        assert x[1:] == y[1:], f"{game}/{profile}: reward/flags/info {i} differ"


def test_fast_path_survives_pickling():
    import pickle

    env = make_atari("Pong")
    clone = pickle.loads(pickle.dumps(env))
    a, b = _run(env, 0, 50), _run(clone, 0, 50)
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b, strict=True))
    assert copy.deepcopy(env).observation_space == env.observation_space


def test_step_before_reset_is_refused_on_the_fast_path():
    env = make_atari("Pong")
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
