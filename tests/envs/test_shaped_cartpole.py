import gymnasium as gym
import numpy as np
import pytest

import gymkit  # noqa: F401
from gymkit.envs import ShapedCartPoleEnv


def _rollout(env, seed, n=2000):
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = [(obs, None, None, None, None)]
    for _ in range(n):
        step = env.step(int(rng.integers(2)))
        out.append(step)
        if step[2] or step[3]:
            out.append((env.reset()[0], None, None, None, None))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_shaping_it_is_cartpole_v1_step_for_step(seed):
    ours = _rollout(gym.make("ShapedCartPole-v1", shaping=None), seed)
    ref = _rollout(gym.make("CartPole-v1"), seed)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref, strict=True):
        assert np.array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]
        if a[4] is not None:
            assert a[4]["unshaped_reward"] == b[1]


def test_angle_shaping_is_the_books_adjust_reward():
    env = gym.make("ShapedCartPole-v1")
    ref = gym.make("CartPole-v1")
    for seed in range(3):
        env.reset(seed=seed)
        ref.reset(seed=seed)
        while True:
            obs, reward, terminated, truncated, info = env.step(1)
            ref_obs, ref_reward, *_ = ref.step(1)
            assert np.array_equal(obs, ref_obs)
            assert reward == pytest.approx(ref_reward - min(abs(float(obs[2])), 0.7))
            assert info["unshaped_reward"] == ref_reward
            if terminated or truncated:
                break


def test_max_subtraction_caps_the_penalty():
    env = ShapedCartPoleEnv(max_subtraction=0.01)
    env.reset(seed=0)
    rewards = []
    for _ in range(30):
        obs, r, term, trunc, info = env.step(1)
        rewards.append(r)
        if term:
            break
    assert min(rewards) == pytest.approx(0.99)


def test_potential_shaping_telescopes():
    """Sum of F = gamma*phi(s') - phi(s) over an episode with gamma=1 is -phi(s0)."""
    env = ShapedCartPoleEnv(shaping="potential", gamma=1.0)
    obs, _ = env.reset(seed=4)
    phi0 = -abs(float(env.state[2]))
    total_shaping = 0.0
    while True:
        obs, r, term, trunc, info = env.step(0)
        total_shaping += r - info["unshaped_reward"]
        if term:
            break
    assert total_shaping == pytest.approx(-phi0, abs=1e-9)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(shaping="square"), "`shaping` must be one of"),
        (dict(max_subtraction=0), "`max_subtraction` must be > 0"),
        (dict(gamma=1.5), r"`gamma` must be in \(0, 1\]"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShapedCartPoleEnv(**kwargs)
