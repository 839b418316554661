"""A tiny fake image env for wrapper tests: any shape, seeded frames, lives and episode ends."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces


class FakeImageEnv(gym.Env):
    """Random uint8 frames of `shape`; the episode terminates after `episode_length` steps.

    Reward at step t is t - 2 (so some are negative, some zero); info carries `lives`,
    which drops by one every `life_every` steps.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self, shape=(12, 10, 3), episode_length=9, life_every=4, n_actions=4, render_mode=None
    ):
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)
        self.action_space = spaces.Discrete(n_actions)
        self.episode_length = episode_length
        self.life_every = life_every
        self.render_mode = render_mode
        self.t = 0
        self.frame = None

    def _obs(self):
        self.frame = self.np_random.integers(0, 256, self.observation_space.shape, dtype=np.uint8)
        return self.frame.copy()

    def _info(self):
        return {"lives": 3 - self.t // self.life_every, "t": self.t}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), self._info()

    def step(self, action):
        self.t += 1
        terminated = self.t >= self.episode_length
        return self._obs(), float(self.t - 2), terminated, False, self._info()

    def render(self):
        frame = self.frame if self.frame.ndim == 3 else np.repeat(self.frame[:, :, None], 3, 2)
        return frame[:, :, :3].copy() if frame.shape[2] >= 3 else np.repeat(frame[:, :, :1], 3, 2)


@pytest.fixture
def fake_env():
    return FakeImageEnv
