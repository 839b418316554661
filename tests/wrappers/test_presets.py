import gymnasium as gym
import numpy as np
import pytest
from conftest import FakeImageEnv

from gymkit.wrappers import PROFILES, AtariProfile, RepeatAction, make_atari, wrap_atari

ale_py = pytest.importorskip("ale_py")
gym.register_envs(ale_py)


@pytest.mark.parametrize(
    "profile, shape, n_actions",
    [("gymnasium", (4, 84, 84), 4), ("sb3", (84, 84, 4), 4), ("machado2018", (4, 84, 84), 18)],
)
def test_profiles_spaces(profile, shape, n_actions):
    env = make_atari("Breakout", profile)
    assert env.observation_space.shape == shape and env.observation_space.dtype == np.uint8
    assert env.action_space.n == n_actions
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space


def test_wrap_atari_on_an_env_you_made_equals_make_atari():
    a = wrap_atari(gym.make("ALE/Pong-v5", frameskip=1), "gymnasium")
    b = make_atari("Pong", "gymnasium")
    assert np.array_equal(a.reset(seed=3)[0], b.reset(seed=3)[0])
    for t in range(50):
        assert np.array_equal(a.step(t % 6)[0], b.step(t % 6)[0])


def test_a_gray_base_env_is_not_grayed_twice():
    gray = wrap_atari(gym.make("ALE/Pong-v5", frameskip=1, obs_type="grayscale"), "gymnasium")
    rgb = make_atari("Pong", "gymnasium")
    assert np.array_equal(gray.reset(seed=1)[0], rgb.reset(seed=1)[0])


def test_overrides_and_custom_profiles():
    env = make_atari("Pong", "gymnasium", stack_size=0, screen_size=64)
    assert env.observation_space.shape == (64, 64)
    custom = AtariProfile(gray=None, stack_size=2, stack_layout="channels_last", noop_max=0)
    assert make_atari("Pong", custom).observation_space.shape == (84, 84, 6)
    assert PROFILES["gymnasium"].terminal_frame == "gymnasium"


def test_full_env_id_and_render_mode():
    env = make_atari("ALE/Pong-v5", "gymnasium", render_mode="rgb_array")
    env.reset(seed=0)
    assert env.render().shape == (210, 160, 3)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: make_atari("Pong", "dopamine"), ValueError, "`profile` must be one of"),
        (lambda: make_atari("Pong", 3), TypeError, "`profile` must be a name or an AtariProfile"),
        (lambda: make_atari("Pong", stack=4), TypeError, r"unknown profile settings \['stack'\]"),
        (lambda: wrap_atari(FakeImageEnv()), ValueError, "wrap_atari: needs an ALE Atari env"),
        (lambda: wrap_atari(gym.make("ALE/Pong-v5")), ValueError, "skips frames itself"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_life_loss_terminate_profile_checks_every_frame_like_gymnasium():
    from gymnasium.wrappers import AtariPreprocessing

    ref = AtariPreprocessing(gym.make("ALE/Breakout-v5", frameskip=1), terminal_on_life_loss=True)
    ours = make_atari("Breakout", "gymnasium", life_loss="terminate", stack_size=0)
    layer = ours
    while not isinstance(layer, RepeatAction):
        layer = layer.env
    assert layer.path.startswith("generic")  # the per-frame life check needs every frame
    assert np.array_equal(ref.reset(seed=2)[0], ours.reset(seed=2)[0])
    rng = np.random.default_rng(2)
    for step in range(1500):
        a = int(rng.integers(4))
        r_ref, r = ref.step(a), ours.step(a)
        assert np.array_equal(r[0], r_ref[0]) and r[1:4] == r_ref[1:4], step
        if r[2] or r[3]:
            assert np.array_equal(ref.reset()[0], ours.reset()[0])
