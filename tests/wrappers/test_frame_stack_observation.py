import gymnasium as gym
import numpy as np
import pytest
from conftest import FakeImageEnv
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import FrameStackObservation as GymFrameStack

from gymkit.wrappers import FrameStackObservation


def _drive(env, seed, steps=40):
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for t in range(steps):
        obs, r, term, trunc, _ = env.step(t % 4)
        out.append(obs)
        if term or trunc:
            out.append(env.reset()[0])
    return out


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 3), (7,)])
@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("padding", ["reset", "zero"])
def test_channels_first_equals_gymnasium(shape, n, padding):
    ours = _drive(FrameStackObservation(FakeImageEnv(shape), n, padding=padding), seed=1)
    ref = _drive(GymFrameStack(FakeImageEnv(shape), n, padding_type=padding), seed=1)
    assert len(ours) == len(ref)
    for a, b in zip(ours, ref, strict=True):
        assert a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 3)])
def test_channels_last_equals_sb3_vec_frame_stack(shape):
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack

    n = 4
    ref = VecFrameStack(DummyVecEnv([lambda: _Channelled(FakeImageEnv(shape))]), n)
    ref.seed(5)
    ours = FrameStackObservation(FakeImageEnv(shape), n, layout="channels_last", padding="zero")
    expected = ref.reset()[0]
    obs, _ = ours.reset(seed=5)
    assert obs.shape == ours.observation_space.shape == expected.shape
    assert np.array_equal(obs, expected)
    for t in range(30):
        o, _, done, infos = ref.step(np.array([t % 4]))
        obs, _, term, trunc, _ = ours.step(t % 4)
        if done[0]:
            assert np.array_equal(obs, infos[0]["terminal_observation"])
            obs, _ = ours.reset()
        assert np.array_equal(obs, o[0])


class _Channelled(gym.ObservationWrapper):
    """SB3's image stacks need a channel axis; gymkit adds one to 2-D frames itself."""

    def __init__(self, env):
        super().__init__(env)
        shape = env.observation_space.shape
        self.observation_space = gym.spaces.Box(
            0, 255, shape if len(shape) == 3 else shape + (1,), np.uint8
        )

    def observation(self, obs):
        return obs if obs.ndim == 3 else obs[:, :, None]


def test_stack_does_not_leak_frames_across_episodes():
    env = FrameStackObservation(FakeImageEnv((4, 4), episode_length=3), 4, padding="zero")
    env.reset(seed=0)
    for _ in range(3):
        obs, *_ = env.step(0)
    obs, _ = env.reset()
    assert not obs[:3].any() and np.array_equal(obs[3], env.unwrapped.frame)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_returned_stacks_are_never_written_again(layout):
    env = FrameStackObservation(FakeImageEnv((4, 4, 3)), 3, layout=layout)
    kept = [env.reset(seed=0)[0]]
    copies = [kept[0].copy()]
    for _ in range(5):
        kept.append(env.step(0)[0])
        copies.append(kept[-1].copy())
    env.reset()
    assert all(np.array_equal(a, b) for a, b in zip(kept, copies, strict=True))


def test_check_env_and_space():
    env = FrameStackObservation(FakeImageEnv((6, 5, 3)), 4, layout="channels_last")
    assert env.observation_space.shape == (6, 5, 12)
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(stack_size=0), ValueError, "`stack_size` must be >= 1"),
        (dict(stack_size=2.0), TypeError, "`stack_size` must be an int"),
        (dict(stack_size=2, layout="nchw"), ValueError, "`layout` must be one of"),
        (dict(stack_size=2, padding="same"), ValueError, "`padding` must be one of"),
    ],
)
def test_bad_arguments_raise(kwargs, error, message):
    with pytest.raises(error, match=f"FrameStackObservation: {message}"):
        FrameStackObservation(FakeImageEnv(), **kwargs)


def test_non_box_and_bad_layout_raise():
    import gymkit  # noqa: F401

    with pytest.raises(TypeError, match="FrameStackObservation: needs a Box"):
        FrameStackObservation(gym.make("ToyMDP-v0"), 2)
    with pytest.raises(ValueError, match="channels_last' needs"):
        FrameStackObservation(FakeImageEnv((7,)), 2, layout="channels_last")
