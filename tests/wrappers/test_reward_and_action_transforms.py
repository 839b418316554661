import gymnasium as gym
import numpy as np
import pytest
from conftest import FakeImageEnv
from gymnasium.utils.env_checker import check_env

from gymkit.wrappers import ClipAction, ClipReward, DiscretizeAction


def test_clip_reward_is_the_sign():
    env = ClipReward(FakeImageEnv(episode_length=6))
    env.reset(seed=0)
    assert [env.step(0)[1] for _ in range(5)] == [-1.0, 0.0, 1.0, 1.0, 1.0]


def test_discretize_action_grid_and_mapping():
    env = DiscretizeAction(gym.make("Pendulum-v1"), 5)
    assert env.action_space == gym.spaces.Discrete(5)
    assert env.grid[:, 0].tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert env.action(4).tolist() == [2.0]
    check_env(env, skip_render_check=True)


def test_discretize_action_multi_dimensional_order():
    env = DiscretizeAction(_box_env(), (2, 3))
    assert env.action_space.n == 6
    # first dimension slowest, as np.unravel_index
    assert env.grid.tolist() == [[-1, 0], [-1, 0.5], [-1, 1], [1, 0], [1, 0.5], [1, 1]]


def _box_env():
    class BoxActionEnv(gym.Env):
        observation_space = gym.spaces.Box(0, 1, (1,), np.float32)
        action_space = gym.spaces.Box(np.array([-1, 0], np.float32), np.array([1, 1], np.float32))

        def reset(self, *, seed=None, options=None):
            return np.zeros(1, np.float32), {}

        def step(self, action):
            return np.zeros(1, np.float32), 0.0, False, False, {"action": action}

    return BoxActionEnv()


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: DiscretizeAction(FakeImageEnv(), 3), TypeError, "needs a 1-D Box action space"),
        (
            lambda: DiscretizeAction(gym.make("Pendulum-v1"), 1),
            ValueError,
            "`num_actions` must be >= 2",
        ),
        (
            lambda: DiscretizeAction(gym.make("Pendulum-v1"), (3, 3)),
            ValueError,
            "one count per action dimension",
        ),
    ],
)
def test_discretize_bad_input(make, error, message):
    with pytest.raises(error, match=f"DiscretizeAction: .*{message}"):
        make()


def test_discretize_rejects_out_of_space_actions():
    env = DiscretizeAction(gym.make("Pendulum-v1"), 3)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="DiscretizeAction: action 3 is outside"):
        env.step(3)


def test_clip_action_is_gymnasiums():
    env = ClipAction(gym.make("Pendulum-v1"))
    env.reset(seed=0)
    assert env.action(np.array([5.0], np.float32)).tolist() == [2.0]
