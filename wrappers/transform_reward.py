"""Stateless reward transforms.

- `ClipReward`: the reward's sign, -1, 0 or +1 (DQN's reward clipping).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

__all__ = ["ClipReward"]


class ClipReward(gym.RewardWrapper, gym.utils.RecordConstructorArgs):
    """Replace each reward by its sign (-1.0, 0.0 or +1.0), as DQN and SB3's ``ClipRewardEnv`` do.

    Gymnasium's ``ClipReward`` clips to a range, which keeps 0.5 as 0.5; this one bins
    by sign, so every scored point counts the same in every game.

    Example:
        >>> import gymnasium as gym
        >>> from gymkit.wrappers import ClipReward
        >>> env = ClipReward(gym.make("CartPole-v1"))
        >>> _ = env.reset(seed=0)
        >>> env.step(0)[1]
        1.0

    Args:
        env: an env with scalar rewards.
    """

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.RewardWrapper.__init__(self, env)

    def reward(self, reward) -> float:
        """Return the sign of `reward` as a float."""
        return float(np.sign(reward))
