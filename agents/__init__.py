"""gymkit reference agents, one file each, all with the same shape.

Construct with an env and a frozen config dataclass, train with ``learn(...)``
(``progress_bar=True`` for a tqdm bar, ``callback=`` to watch or stop), act with
``predict(obs)``, persist with ``save(path)`` / ``Agent.load(path)``, plot
``agent.history``.

- `ValueIterationAgent` (`ValueIterationConfig`, `TabularModel`): Q-value iteration
  on any env exposing ``P`` (gymkit's TabularMDP, FrozenLake, Taxi, CliffWalking).
- `QLearningAgent` (`QLearningConfig`): tabular Q-learning with random, epsilon-greedy
  or exploration-function exploration; respects action masks.
- `ReinforceAgent` (`ReinforceConfig`): the book's policy gradient, numpy network,
  batched over parallel episodes.
- `DQNAgent` (`DQNConfig`): stable-baselines3's DQN with double DQN and a dueling
  head; `GymkitDQN`, `DuelingQNetwork`, `DuelingDQNPolicy`, `DuelingCnnPolicy` and
  `SeededReplayBuffer` are the SB3 extensions behind it.
- `evaluate`: score any of them on full episodes (the true score of shaped envs).

The DQN names load torch and stable-baselines3 on first use only: importing
``gymkit.agents`` never imports torch.
"""

from __future__ import annotations

if __name__ != "gymkit.agents":
    raise ImportError(
        f"this folder is the package gymkit.agents, imported here as {__name__!r}: install "
        "the checkout (pip install -e .) and import gymkit.agents"
    )


import importlib
from typing import TYPE_CHECKING, Any

from gymkit.agents.evaluation import evaluate
from gymkit.agents.q_learning import QLearningAgent, QLearningConfig
from gymkit.agents.reinforce import ReinforceAgent, ReinforceConfig
from gymkit.agents.value_iteration import TabularModel, ValueIterationAgent, ValueIterationConfig

if TYPE_CHECKING:
    from gymkit.agents.dqn import DQNAgent as DQNAgent
    from gymkit.agents.dqn import DQNConfig as DQNConfig
    from gymkit.agents.dqn_policies import DuelingCnnPolicy as DuelingCnnPolicy
    from gymkit.agents.dqn_policies import DuelingDQNPolicy as DuelingDQNPolicy
    from gymkit.agents.dqn_policies import DuelingQNetwork as DuelingQNetwork
    from gymkit.agents.dqn_sb3 import GymkitDQN as GymkitDQN
    from gymkit.agents.dqn_sb3 import SeededReplayBuffer as SeededReplayBuffer

# Names served by modules that import torch: each loaded on first access.
_LAZY = {
    "DQNAgent": "gymkit.agents.dqn",
    "DQNConfig": "gymkit.agents.dqn",
    "GymkitDQN": "gymkit.agents.dqn_sb3",
    "SeededReplayBuffer": "gymkit.agents.dqn_sb3",
    "DuelingQNetwork": "gymkit.agents.dqn_policies",
    "DuelingDQNPolicy": "gymkit.agents.dqn_policies",
    "DuelingCnnPolicy": "gymkit.agents.dqn_policies",
}

__all__ = [
    "ValueIterationAgent",
    "ValueIterationConfig",
    "TabularModel",
    "QLearningAgent",
    "QLearningConfig",
    "ReinforceAgent",
    "ReinforceConfig",
    "evaluate",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'gymkit.agents' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
