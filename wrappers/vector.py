"""Vector envs for many envs on few cores.

- `BatchedAsyncVectorEnv`: N envs in W worker processes, each worker stepping its
  share of the envs in a row: one message per worker per step instead of one per env.
- `make_atari_vector`: Atari preset envs in a `BatchedAsyncVectorEnv`.

The processes, pipes and shared memory are Gymnasium's own ``AsyncVectorEnv``:
each of its workers runs one `_EnvGroup`, a ``SyncVectorEnv`` of N/W envs seen as a
single env. gymkit adds no process pool of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from gymkit.wrappers._checks import positive_int

__all__ = ["BatchedAsyncVectorEnv", "make_atari_vector"]


class _Parcel:
    """An opaque box, so Gymnasium's info merging passes a group's payload through whole."""

    __slots__ = ("payload",)

    def __init__(self, payload):
        self.payload = payload


class _EnvGroup(gym.Env):
    """A SyncVectorEnv of several envs, seen by AsyncVectorEnv as one env.

    Autoreset happens inside the group (in the requested mode); the group reports
    ``terminated = truncated = False`` to its host, and carries the real rewards,
    flags and infos in its info under ``"group"``.
    """

    def __init__(self, env_fns: Sequence[Callable[[], gym.Env]], autoreset_mode: AutoresetMode):
        # no copy: the host's worker copies the batch into shared memory right away
        self.vec = SyncVectorEnv(env_fns, copy=False, autoreset_mode=autoreset_mode)
        self.observation_space = self.vec.observation_space
        self.action_space = self.vec.action_space
        self.single_action_space = self.vec.single_action_space
        self.metadata = self.vec.metadata
        self.render_mode = self.vec.render_mode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.vec.reset(seed=seed, options=options)
        return obs, {"group": _Parcel(info)}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.vec.step(action)
        packed = {"reward": reward, "terminated": terminated, "truncated": truncated, "info": info}
        return obs, 0.0, False, False, {"group": _Parcel(packed)}

    def close(self, **kwargs):
        self.vec.close(**kwargs)


def _merge(parts: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    """Join the per-group vector infos into one vector info dict (Gymnasium's layout)."""
    total = sum(sizes)
    merged: dict[str, Any] = {}
    keys = {k for part in parts for k in part if not k.startswith("_")}
    for key in keys:
        values, masks = [], []
        for part, n in zip(parts, sizes, strict=True):
            if key in part:
                values.append(part[key])
                masks.append(part.get(f"_{key}", np.ones(n, bool)))
            else:
                values.append(None)
                masks.append(np.zeros(n, bool))
        if all(isinstance(v, dict) or v is None for v in values):
            merged[key] = _merge([v or {} for v in values], sizes)
            merged[f"_{key}"] = np.concatenate(masks)
            continue
        template = next(v for v in values if v is not None)
        out = np.zeros(total, dtype=template.dtype) if isinstance(template, np.ndarray) else None
        if out is None or template.ndim != 1:
            out = np.full(total, None, dtype=object)
        start = 0
        for v, n in zip(values, sizes, strict=True):
            if v is not None:
                out[start : start + n] = v
            start += n
        merged[key] = out
        merged[f"_{key}"] = np.concatenate(masks)
    return merged


class BatchedAsyncVectorEnv(VectorEnv):
    """Run ``len(env_fns)`` envs in ``num_workers`` processes, each stepping its envs in a row.

    Gymnasium's ``AsyncVectorEnv`` sends one message per env per step; with many
    envs on few cores that traffic and the process switching cost more than the
    envs. Here each worker steps ``num_envs / num_workers`` envs per message, with
    observations in shared memory. Sub-env ``i`` is seeded ``seed + i``, so its
    observations are those of the single env ``env_fns[i]()`` reset with that seed
    and driven with the same actions. Both autoreset modes are supported.

    Pick it over ``AsyncVectorEnv`` when envs outnumber cores (e.g. 8 Atari envs on
    2 cores); for one env per core they are the same.

    Example:
        >>> import gymnasium as gym
        >>> from gymkit.wrappers.vector import BatchedAsyncVectorEnv
        >>> venv = BatchedAsyncVectorEnv([lambda: gym.make("CartPole-v1")] * 4, num_workers=2)
        >>> obs, info = venv.reset(seed=0)
        >>> obs.shape, venv.action_space
        ((4, 4), MultiDiscrete([2 2 2 2]))
        >>> venv.close()

    Args:
        env_fns: functions that make the envs (picklable, as for ``AsyncVectorEnv``).
        num_workers: worker processes (default: the number of CPUs, at most the envs);
            must divide the number of envs.
        autoreset_mode: Gymnasium's autoreset mode (next-step by default).
        copy: return fresh observation arrays (default), not views of shared memory.
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        num_workers: int | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
    ):
        n = len(env_fns)
        positive_int("BatchedAsyncVectorEnv", "len(env_fns)", n)
        workers = min(os.cpu_count() or 1, n) if num_workers is None else num_workers
        workers = positive_int("BatchedAsyncVectorEnv", "num_workers", workers)
        if n % workers:
            raise ValueError(
                f"BatchedAsyncVectorEnv: `num_workers` ({workers}) must divide the number of "
                f"envs ({n})"
            )
        mode = AutoresetMode(autoreset_mode)
        self.group_size = n // workers
        groups = [list(env_fns[i : i + self.group_size]) for i in range(0, n, self.group_size)]
        self.host = gym.vector.AsyncVectorEnv(
            [_GroupFactory(g, mode) for g in groups], shared_memory=True, copy=False
        )
        self.num_envs, self.num_workers, self.copy = n, workers, copy
        group_obs = self.host.single_observation_space
        self.single_observation_space = gym.spaces.Box(
            group_obs.low[0], group_obs.high[0], dtype=group_obs.dtype
        )
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, n)
        # the workers' envs know their spaces: no extra env is made here to ask them
        self.single_action_space = self.host.get_attr("single_action_space")[0]
        self.metadata = self.host.get_attr("metadata")[0]
        self.render_mode = self.host.get_attr("render_mode")[0]
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, n)

    def _flat(self, obs: np.ndarray) -> np.ndarray:
        obs = obs.reshape(self.observation_space.shape)
        return obs.copy() if self.copy else obs

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        """Reset every env; env ``i`` gets ``seed + i`` (or ``seed[i]``)."""
        if isinstance(seed, int):
            seeds = [seed + i * self.group_size for i in range(self.num_workers)]
        elif seed is None:
            seeds = None
        else:
            if len(seed) != self.num_envs:
                raise ValueError(
                    f"BatchedAsyncVectorEnv: `seed` needs one seed per env ({self.num_envs}), "
                    f"got {len(seed)}"
                )
            seeds = [
                list(seed[i : i + self.group_size])
                for i in range(0, self.num_envs, self.group_size)
            ]
        obs, info = self.host.reset(seed=seeds, options=options)
        parts = [parcel.payload for parcel in info["group"]]
        return self._flat(obs), _merge(parts, [self.group_size] * self.num_workers)

    def step(self, actions):
        """Step every env; episodes end and restart as in Gymnasium's autoreset mode."""
        actions = np.asarray(actions).reshape(
            self.num_workers, self.group_size, *self.single_action_space.shape
        )
        obs, _, _, _, info = self.host.step(actions)
        packed = [parcel.payload for parcel in info["group"]]
        reward = np.concatenate([p["reward"] for p in packed])
        terminated = np.concatenate([p["terminated"] for p in packed])
        truncated = np.concatenate([p["truncated"] for p in packed])
        merged = _merge([p["info"] for p in packed], [self.group_size] * self.num_workers)
        return self._flat(obs), reward, terminated, truncated, merged

    def close_extras(self, **kwargs):
        """Close the worker processes."""
        if hasattr(self, "host"):  # absent when __init__ failed before starting them
            self.host.close(**kwargs)


class _GroupFactory:
    """A picklable thunk that makes one `_EnvGroup` in a worker process."""

    def __init__(self, env_fns, mode):
        self.env_fns, self.mode = env_fns, mode

    def __call__(self) -> _EnvGroup:
        return _EnvGroup(self.env_fns, self.mode)


class _AtariFactory:
    """A picklable thunk for one Atari preset env."""

    def __init__(self, game: str, profile: Any, overrides: dict[str, Any]):
        self.game, self.profile, self.overrides = game, profile, overrides

    def __call__(self) -> gym.Env:
        from gymkit.wrappers.presets import make_atari

        return make_atari(self.game, self.profile, **self.overrides)


def make_atari_vector(
    game: str,
    num_envs: int,
    profile: Any = "gymnasium",
    *,
    num_workers: int | None = None,
    autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
    **overrides,
) -> BatchedAsyncVectorEnv:
    """``num_envs`` copies of ``make_atari(game, profile)`` in a `BatchedAsyncVectorEnv`.

    Example:
        >>> from gymkit.wrappers import make_atari_vector
        >>> venv = make_atari_vector("Pong", 4, num_workers=2)
        >>> venv.observation_space.shape
        (4, 4, 84, 84)
        >>> venv.close()

    Args:
        game: the game, as for `make_atari`.
        num_envs: number of envs.
        profile: an Atari profile name or `AtariProfile`.
        num_workers: worker processes (default: CPUs, at most ``num_envs``).
        autoreset_mode: Gymnasium's autoreset mode.
        **overrides: `AtariProfile` fields, as for `make_atari`.
    """
    n = positive_int("make_atari_vector", "num_envs", num_envs)
    factory = _AtariFactory(game, profile, overrides)
    return BatchedAsyncVectorEnv(
        [factory] * n, num_workers=num_workers, autoreset_mode=autoreset_mode
    )
