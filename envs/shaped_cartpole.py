"""CartPole with the book's angle-shaped reward (registered as ``ShapedCartPole-v1``)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

__all__ = ["ShapedCartPoleEnv"]

_SHAPINGS = ("angle", "potential", None)


class ShapedCartPoleEnv(CartPoleEnv):
    """CartPole-v1 whose reward is reduced by the pole angle, as in the book.

    ## Description
    Gymnasium's CartPole, step for step: same dynamics, observations, termination
    and seeding. Only the reward changes, to help a policy gradient learn faster.

    ## Rewards
    * ``shaping="angle"`` (default, the book's ``adjust_reward``):
      ``reward - min(|pole angle|, max_subtraction)`` with the angle after the step.
    * ``shaping="potential"``: ``reward + gamma * phi(s') - phi(s)`` with
      ``phi(s) = -scale * |pole angle|`` and ``phi = 0`` after termination
      (Ng et al., 1999): it provably keeps the optimal policy.
    * ``shaping=None``: CartPole-v1's reward, unchanged.

    ``info["unshaped_reward"]`` always carries CartPole's own reward, so an
    evaluation reports the true score.

    ## Episode End
    As CartPole-v1: pole beyond 12 degrees or cart beyond 2.4; truncated at 500 steps
    by the registered time limit.

    ## Arguments
    See ``__init__``.

    ## Version History
    * v1: matches CartPole-v1.

    Example:
        >>> import gymnasium as gym
        >>> import gymkit
        >>> env = gym.make("ShapedCartPole-v1")
        >>> env.observation_space.shape, env.action_space
        ((4,), Discrete(2))
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(0)
        >>> round(reward, 4), float(info["unshaped_reward"])
        (0.9531, 1.0)
    """

    def __init__(
        self,
        shaping: Literal["angle", "potential"] | None = "angle",
        max_subtraction: float = 0.7,
        gamma: float = 0.99,
        scale: float = 1.0,
        render_mode: str | None = None,
    ):
        """Make the env.

        Args:
            shaping: ``"angle"`` (book), ``"potential"`` or ``None`` (no shaping).
            max_subtraction: cap on the angle penalty of ``"angle"`` shaping (> 0).
            gamma: the discount of ``"potential"`` shaping, in (0, 1].
            scale: the potential's scale for ``"potential"`` shaping.
            render_mode: ``None``, ``"human"`` or ``"rgb_array"``.
        """
        if shaping not in _SHAPINGS:
            raise ValueError(
                f"ShapedCartPoleEnv: `shaping` must be one of {_SHAPINGS}, got {shaping!r}"
            )
        if not max_subtraction > 0:
            raise ValueError(
                f"ShapedCartPoleEnv: `max_subtraction` must be > 0, got {max_subtraction}"
            )
        if not 0 < gamma <= 1:
            raise ValueError(f"ShapedCartPoleEnv: `gamma` must be in (0, 1], got {gamma}")
        super().__init__(render_mode=render_mode)
        self.shaping = shaping
        self.max_subtraction = float(max_subtraction)
        self.gamma = float(gamma)
        self.scale = float(scale)

    def _potential(self, theta: float) -> float:
        return -self.scale * abs(float(theta))

    def step(self, action):
        """Step CartPole and shape its reward; ``info["unshaped_reward"]`` keeps the original."""
        theta_before = float(self.state[2]) if self.state is not None else 0.0
        obs, reward, terminated, truncated, info = super().step(action)
        info["unshaped_reward"] = np.float64(reward)  # numpy scalars: TorchRL reads info by dtype
        theta = float(obs[2])  # the angle the agent observes, as the book shapes it
        if self.shaping == "angle":
            reward = reward - min(abs(theta), self.max_subtraction)
        elif self.shaping == "potential":
            phi_next = 0.0 if terminated else self._potential(theta)
            reward = reward + self.gamma * phi_next - self._potential(theta_before)
        return obs, float(reward), terminated, truncated, info
