"""Stateless action transforms.

- `DiscretizeAction`: a continuous Box action space as a Discrete grid (TF-Agents'
  ``ActionDiscretizeWrapper``).
- `ClipAction`: clip continuous actions to the space's bounds (Gymnasium's, which is
  already right; re-exported so the Atari and control stacks need one import).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import ClipAction

from gymkit.common.checks import positive_int

__all__ = ["DiscretizeAction", "ClipAction"]


class DiscretizeAction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """Turn a bounded ``Box`` action space into ``Discrete(prod(num_actions))``.

    Each action dimension ``i`` gets ``num_actions[i]`` evenly spaced values from its
    low to its high bound (``np.linspace``); discrete action ``k`` is the grid point
    whose per-dimension indices are ``np.unravel_index(k, num_actions)`` (first
    dimension slowest), as TF-Agents' ``ActionDiscretizeWrapper`` does.
    ``grid`` holds every point, ``grid[k]`` the continuous action ``k`` maps to.

    Example:
        >>> import gymnasium as gym
        >>> from gymkit.wrappers import DiscretizeAction
        >>> env = gym.make("Pendulum-v1")
        >>> env.action_space
        Box(-2.0, 2.0, (1,), float32)
        >>> env = DiscretizeAction(env, 5)
        >>> env.action_space, env.grid[:, 0].tolist()
        (Discrete(5), [-2.0, -1.0, 0.0, 1.0, 2.0])

    Args:
        env: an env with a bounded, 1-D ``Box`` action space.
        num_actions: values per dimension (>= 2): one int for all, or one per dimension.
    """

    def __init__(self, env: gym.Env, num_actions: int | tuple[int, ...]):
        gym.utils.RecordConstructorArgs.__init__(self, num_actions=num_actions)
        gym.ActionWrapper.__init__(self, env)
        space = env.action_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 1:
            raise TypeError(f"DiscretizeAction: needs a 1-D Box action space, got {space}")
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ValueError(f"DiscretizeAction: needs finite action bounds, got {space}")
        dims = space.shape[0]
        counts = (num_actions,) * dims if np.isscalar(num_actions) else tuple(num_actions)
        if len(counts) != dims:
            raise ValueError(
                f"DiscretizeAction: `num_actions` needs one count per action dimension "
                f"({dims}), got {num_actions!r}"
            )
        counts = tuple(
            positive_int("DiscretizeAction", "num_actions", n, minimum=2) for n in counts
        )
        axes = [np.linspace(space.low[i], space.high[i], n) for i, n in enumerate(counts)]
        mesh = np.meshgrid(*axes, indexing="ij")
        self.num_actions = counts
        self.grid = np.stack([m.ravel() for m in mesh], axis=1).astype(space.dtype)
        self.action_space = spaces.Discrete(len(self.grid))

    def action(self, action) -> np.ndarray:
        """Return the continuous action of grid point `action`."""
        if not self.action_space.contains(action):
            raise ValueError(f"DiscretizeAction: action {action!r} is outside {self.action_space}")
        return self.grid[int(action)].copy()
