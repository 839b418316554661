"""What every gymkit agent shares: the callback contract, the history, save/load.

Every agent is built as ``Agent(env, config)`` from a frozen dataclass config, trains
with ``learn(...)`` (a tqdm progress bar on request and an optional callback),
acts with ``predict(obs)``, and round-trips through ``save(path)`` /
``Agent.load(path)``. ``agent.history`` maps a name to a list of numbers, ready to plot.

This module imports neither torch nor stable-baselines3.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import numpy as np

__all__ = ["Callback", "NumpyAgent", "config_to_json", "config_from_json"]

#: ``callback(agent, info)`` is called after each unit of training (a step, an
#: update or a sweep, as each agent documents) with a dict of the latest numbers;
#: returning ``False`` stops ``learn`` (any other value, ``None`` included, goes on).
Callback = Callable[[Any, dict[str, Any]], "bool | None"]

_FORMAT_VERSION = 1
SelfAgent = TypeVar("SelfAgent", bound="NumpyAgent")


def config_to_json(config: Any) -> str:
    """Serialise a config dataclass to JSON (tuples become lists)."""
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def config_from_json(config_class: type, text: str) -> Any:
    """Rebuild a config dataclass from `config_to_json` output."""
    raw = json.loads(text)
    return config_class(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})


class NumpyAgent:
    """Base of the agents whose whole state is numpy arrays (saved as one ``.npz`` file).

    A subclass sets ``config_class``, implements ``_state_arrays()`` (name -> array)
    and the classmethod ``_restore(env, config, arrays)``, and stores plottable
    numbers in ``history``.

    Example:
        >>> import os, tempfile
        >>> import gymnasium as gym
        >>> import gymkit
        >>> from gymkit.agents import ValueIterationAgent
        >>> agent = ValueIterationAgent(gym.make("ToyMDP-v0")).learn()
        >>> path = os.path.join(tempfile.mkdtemp(), "toy.npz")
        >>> agent.save(path)
        >>> ValueIterationAgent.load(path).predict([0, 1, 2])
        array([0, 0, 1])

    Args:
        env: the env to learn from (``None`` for an agent loaded only to predict).
        config: an instance of the subclass's ``config_class``.
    """

    config_class: ClassVar[type]

    def __init__(self, env: Any, config: Any):
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__}: `config` must be a {self.config_class.__name__}, "
                f"got {type(config).__name__}"
            )
        self.env = env
        self.config = config
        self.history: dict[str, list] = {}

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """The arrays `save` writes and `_restore` reads back."""
        raise NotImplementedError

    def _require_env(self) -> Any:
        if self.env is None:
            raise ValueError(
                f"{type(self).__name__}: this agent has no env (loaded without one); "
                f"pass `env=` to {type(self).__name__}.load() to train it"
            )
        return self.env

    # --- persistence ----------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the config, the learned arrays and the history to ``path`` (``.npz``).

        Args:
            path: file to write; numpy appends ``.npz`` if the name lacks it.
        """
        arrays = {f"state/{k}": np.asarray(v) for k, v in self._state_arrays().items()}
        for name, values in self.history.items():
            arrays[f"history/{name}"] = np.asarray(values)
        meta = json.dumps(
            {"agent": type(self).__name__, "format_version": _FORMAT_VERSION},
        )
        np.savez(
            path,
            _meta=np.array(meta),
            _config=np.array(config_to_json(self.config)),
            **arrays,
        )

    @classmethod
    def load(cls: type[SelfAgent], path: str | os.PathLike, env: Any = None) -> SelfAgent:
        """Load an agent written by `save`; ``predict`` then returns what it returned before.

        Args:
            path: the file `save` wrote.
            env: the env to keep training on (optional: ``predict`` needs none).
        """
        path = os.fspath(path)
        if not os.path.exists(path) and os.path.exists(path + ".npz"):
            path += ".npz"
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["_meta"]))
            if meta["agent"] != cls.__name__:
                raise ValueError(
                    f"{cls.__name__}.load: {path!r} holds a {meta['agent']}, not a {cls.__name__}"
                )
            config = config_from_json(cls.config_class, str(data["_config"]))
            state = {k[len("state/") :]: data[k] for k in data.files if k.startswith("state/")}
            history = {
                k[len("history/") :]: data[k].tolist()
                for k in data.files
                if k.startswith("history/")
            }
        agent = cls._restore(env, config, state)
        agent.history = history
        return agent

    @classmethod
    def _restore(
        cls: type[SelfAgent], env: Any, config: Any, state: dict[str, np.ndarray]
    ) -> SelfAgent:
        """Build an agent from saved arrays; ``env`` may be ``None``."""
        raise NotImplementedError
