"""Score an agent: play full episodes with its greedy ``predict`` and report the true score.

- `evaluate`: the per-episode scores of ``n_episodes`` episodes, played side by side.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

__all__ = ["evaluate"]


def evaluate(
    agent: Any,
    env: str | gym.vector.VectorEnv,
    n_episodes: int = 100,
    seed: int | None = None,
    max_parallel: int = 100,
) -> np.ndarray:
    """Play ``n_episodes`` episodes with ``agent.predict`` (greedy) and return their scores.

    The score of an episode is the sum of ``info["unshaped_reward"]`` where the env
    reports it (gymkit's shaped CartPole), else of the rewards. Episodes are played
    ``max_parallel`` at a time in a vector env; each sub-env counts only its first
    episode of a round.

    Example:
        >>> from gymkit.agents import ReinforceAgent, evaluate
        >>> agent = ReinforceAgent("CartPole-v1")
        >>> scores = evaluate(agent, "CartPole-v1", n_episodes=4, seed=0)
        >>> scores.shape, bool((scores >= 1).all())
        ((4,), True)
        >>> agent.close()

    Args:
        agent: anything with ``predict(batch_of_obs) -> actions``.
        env: an env id (a vector env of ``min(n_episodes, max_parallel)`` copies is
            built and closed) or a ``VectorEnv``.
        n_episodes: the number of episodes to score.
        seed: seeds the first reset; later rounds continue the env's generator.
        max_parallel: the most episodes played at once when ``env`` is an id.
    """
    if not n_episodes >= 1:
        raise ValueError(f"evaluate: `n_episodes` must be >= 1, got {n_episodes!r}")
    owns = isinstance(env, str)
    venv = gym.make_vec(env, num_envs=min(n_episodes, max_parallel)) if owns else env
    if not isinstance(venv, gym.vector.VectorEnv):
        raise TypeError(
            f"evaluate: `env` must be an env id or a VectorEnv, got {type(env).__name__}"
        )
    scores: list[float] = []
    try:
        first = True
        while len(scores) < n_episodes:
            obs, _ = venv.reset(seed=seed if first else None)
            first = False
            total = np.zeros(venv.num_envs)
            active = np.ones(venv.num_envs, dtype=bool)
            while active.any():
                obs, reward, terminated, truncated, info = venv.step(agent.predict(obs))
                score = np.asarray(info.get("unshaped_reward", reward), dtype=np.float64)
                if "_unshaped_reward" in info:
                    score = np.where(info["_unshaped_reward"], score, reward)
                total += np.where(active, score, 0.0)
                active &= ~(terminated | truncated)
            scores.extend(total.tolist())
    finally:
        if owns:
            venv.close()
    return np.asarray(scores[:n_episodes])
