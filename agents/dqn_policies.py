"""The dueling Q-network head (the book's variant) as SB3 DQN policies.

- `DuelingHead`: shared MLP, then V and A streams, ``Q = V + A - agg(A)``.
- `DuelingQNetwork`: SB3's ``QNetwork`` with that head.
- `DuelingDQNPolicy`, `DuelingCnnPolicy`: SB3 DQN policies (MLP, Nature CNN) using it.

SB3's policies are extended through their documented ``make_q_net`` hook; the one
private method overridden, ``_get_constructor_parameters``, is how SB3 itself records a
policy's arguments for saving (the tested SB3 range is pinned in pyproject.toml).
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import NatureCNN, create_mlp
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch import nn

__all__ = ["AGGREGATIONS", "DuelingHead", "DuelingQNetwork", "DuelingDQNPolicy", "DuelingCnnPolicy"]

#: How the advantages are centred: Wang et al.'s mean, or the book's max.
AGGREGATIONS = ("mean", "max")


class DuelingHead(nn.Module):
    """Maps features to Q-values through a shared MLP and separate V and A streams.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from gymkit.agents.dqn_policies import DuelingHead
        >>> head = DuelingHead(8, 3, net_arch=[16], activation_fn=nn.ReLU)
        >>> q = head(torch.zeros(5, 8))
        >>> q.shape, torch.allclose(q.mean(dim=1), head.value(head.trunk(torch.zeros(5, 8)))[:, 0])
        (torch.Size([5, 3]), True)

    Args:
        features_dim: size of the input features.
        n_actions: number of actions.
        net_arch: hidden layer sizes of the shared MLP (may be empty).
        activation_fn: activation of the shared MLP.
        aggregation: ``"mean"`` (Wang et al., 2016) or ``"max"`` (the book) is
            subtracted from the advantages so that V is identifiable.
    """

    def __init__(
        self,
        features_dim: int,
        n_actions: int,
        net_arch: list[int],
        activation_fn: type[nn.Module],
        aggregation: str = "mean",
    ):
        super().__init__()
        if aggregation not in AGGREGATIONS:
            raise ValueError(
                f"DuelingHead: `aggregation` must be one of {AGGREGATIONS}, got {aggregation!r}"
            )
        self.aggregation = aggregation
        self.trunk = nn.Sequential(*create_mlp(features_dim, -1, net_arch, activation_fn))
        last = net_arch[-1] if net_arch else features_dim
        self.value = nn.Linear(last, 1)
        self.advantage = nn.Linear(last, n_actions)

    def forward(self, features: th.Tensor) -> th.Tensor:
        """Q-values ``(batch, n_actions)``."""
        hidden = self.trunk(features)
        advantages = self.advantage(hidden)
        if self.aggregation == "mean":
            baseline = advantages.mean(dim=1, keepdim=True)
        else:
            baseline = advantages.max(dim=1, keepdim=True).values
        return self.value(hidden) + advantages - baseline


class DuelingQNetwork(QNetwork):
    """SB3's ``QNetwork`` with a dueling head: ``Q(s, a) = V(s) + A(s, a) - agg_a A(s, a)``.

    Same features extractor, ``net_arch`` (now the shared trunk), ``forward`` and
    greedy ``_predict`` as SB3's; only ``q_net`` becomes a `DuelingHead`.

    Example:
        >>> import torch
        >>> from gymnasium import spaces
        >>> from stable_baselines3.common.torch_layers import FlattenExtractor
        >>> from gymkit.agents.dqn_policies import DuelingQNetwork
        >>> obs_space, act_space = spaces.Box(-1, 1, (4,)), spaces.Discrete(2)
        >>> net = DuelingQNetwork(obs_space, act_space, FlattenExtractor(obs_space), 4,
        ...                       net_arch=[8], aggregation="max")
        >>> q = net(torch.zeros(3, 4))
        >>> v = net.q_net.value(net.q_net.trunk(torch.zeros(3, 4)))
        >>> q.shape, torch.allclose(q.max(dim=1, keepdim=True).values, v)  # "max": V = max Q
        (torch.Size([3, 2]), True)

    Args:
        observation_space: the observation space.
        action_space: the Discrete action space.
        features_extractor: the features extractor (as SB3 builds it).
        features_dim: its output size.
        net_arch: hidden sizes of the shared trunk (default ``[64, 64]``).
        activation_fn: the trunk's activation.
        normalize_images: divide image observations by 255.
        aggregation: ``"mean"`` or ``"max"`` (the book's), see `DuelingHead`.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        features_extractor: nn.Module,
        features_dim: int,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        aggregation: str = "mean",
    ):
        super().__init__(
            observation_space,
            action_space,
            features_extractor,
            features_dim,
            net_arch,
            activation_fn,
            normalize_images,
        )
        self.aggregation = aggregation
        self.q_net = DuelingHead(
            features_dim, int(action_space.n), self.net_arch, activation_fn, aggregation
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["aggregation"] = self.aggregation
        return data


class DuelingDQNPolicy(DQNPolicy):
    """SB3's DQN policy whose online and target networks are `DuelingQNetwork`s.

    Example:
        >>> import gymnasium as gym
        >>> from gymkit.agents.dqn_policies import DuelingDQNPolicy
        >>> from gymkit.agents.dqn_sb3 import GymkitDQN
        >>> model = GymkitDQN(DuelingDQNPolicy, gym.make("CartPole-v1"),
        ...                   policy_kwargs=dict(aggregation="max"))
        >>> type(model.q_net).__name__, model.q_net.aggregation
        ('DuelingQNetwork', 'max')

    Args:
        observation_space: the observation space.
        action_space: the Discrete action space.
        lr_schedule: the learning-rate schedule (SB3 passes it).
        aggregation: ``"mean"`` or ``"max"``, see `DuelingHead`.
        **kwargs: the rest of ``DQNPolicy``'s arguments (``net_arch``, ...).
    """

    def __init__(self, observation_space, action_space, lr_schedule, aggregation="mean", **kwargs):
        if aggregation not in AGGREGATIONS:
            raise ValueError(
                f"DuelingDQNPolicy: `aggregation` must be one of {AGGREGATIONS}, "
                f"got {aggregation!r}"
            )
        self.aggregation = aggregation
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def make_q_net(self) -> DuelingQNetwork:
        """Build a dueling Q-network (with its own features extractor)."""
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return DuelingQNetwork(**net_args, aggregation=self.aggregation).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["aggregation"] = self.aggregation
        return data


class DuelingCnnPolicy(DuelingDQNPolicy):
    """`DuelingDQNPolicy` over SB3's Nature CNN (image observations).

    Example:
        >>> import numpy as np
        >>> from gymnasium import spaces
        >>> from gymkit.agents.dqn_policies import DuelingCnnPolicy
        >>> obs_space = spaces.Box(0, 255, (4, 84, 84), np.uint8)
        >>> policy = DuelingCnnPolicy(obs_space, spaces.Discrete(4), lambda _: 1e-4)
        >>> type(policy.q_net.features_extractor).__name__, policy.q_net.q_net.advantage
        ('NatureCNN', Linear(in_features=512, out_features=4, bias=True))

    Args:
        observation_space: an image space (channels first or last).
        action_space: the Discrete action space.
        lr_schedule: the learning-rate schedule (SB3 passes it).
        **kwargs: the rest of `DuelingDQNPolicy`'s arguments.
    """

    def __init__(self, observation_space, action_space, lr_schedule, **kwargs):
        kwargs.setdefault("features_extractor_class", NatureCNN)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)
