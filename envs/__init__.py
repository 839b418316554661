"""gymkit environments and their registration.

- `TabularMDP`: any finite MDP from T, R and allowed actions (``P`` like toy-text envs).
- `ToyMDP`: the book's three-state MDP, id ``ToyMDP-v0``.
- `ShapedCartPoleEnv`: CartPole with the book's angle-shaped reward, id ``ShapedCartPole-v1``.

Importing this package registers every id (``import gymkit`` does it for you).
"""

from __future__ import annotations

if __name__ != "gymkit.envs":
    raise ImportError(
        f"this folder is the package gymkit.envs, imported here as {__name__!r}: install "
        "the checkout (pip install -e .) and import gymkit.envs"
    )


import gymnasium as gym

from gymkit.envs.shaped_cartpole import ShapedCartPoleEnv
from gymkit.envs.tabular_mdp import TabularMDP, ToyMDP

__all__ = ["TabularMDP", "ToyMDP", "ShapedCartPoleEnv", "ENV_IDS", "register_envs"]

# id -> registration kwargs; the single place where gymkit's ids are declared.
_REGISTRATIONS: dict[str, dict] = {
    # A continuing task: the time limit gives episodic libraries episodes.
    "ToyMDP-v0": dict(entry_point="gymkit.envs.tabular_mdp:ToyMDP", max_episode_steps=100),
    "ShapedCartPole-v1": dict(
        entry_point="gymkit.envs.shaped_cartpole:ShapedCartPoleEnv",
        max_episode_steps=500,
        reward_threshold=475.0,
    ),
}
ENV_IDS: tuple[str, ...] = tuple(_REGISTRATIONS)


def register_envs() -> None:
    """Register every gymkit id with Gymnasium (idempotent)."""
    for env_id, kwargs in _REGISTRATIONS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, **kwargs)


register_envs()
