"""A finite MDP built from its transition table, with allowed actions and masks.

`TabularMDP` is the generic environment; `ToyMDP` is the book's three-state MDP
built from it (registered as ``ToyMDP-v0``).
"""

from __future__ import annotations

from collections.abc import Sequence
from io import StringIO
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

__all__ = ["TabularMDP", "ToyMDP", "TOY_MDP_TRANSITIONS", "TOY_MDP_REWARDS", "TOY_MDP_ALLOWED"]

# The book's three-state MDP: T[s][a] is the next-state distribution (None where
# the action is impossible), R[s][a][s'] the reward of that transition.
TOY_MDP_TRANSITIONS = (
    ((0.7, 0.3, 0.0), (1.0, 0.0, 0.0), (0.8, 0.2, 0.0)),
    ((0.0, 1.0, 0.0), None, (0.0, 0.0, 1.0)),
    (None, (0.8, 0.1, 0.1), None),
)
TOY_MDP_REWARDS = (
    ((10, 0, 0), (0, 0, 0), (0, 0, 0)),
    ((0, 0, 0), (0, 0, 0), (0, 0, -50)),
    ((0, 0, 0), (40, 0, 0), (0, 0, 0)),
)
TOY_MDP_ALLOWED = ((0, 1, 2), (0, 2), (1,))

_INVALID_ACTION_MODES = ("penalize", "raise")


class TabularMDP(gym.Env[int, int]):
    """A finite Markov decision process given by T[s, a, s'], R[s, a, s'] and allowed actions.

    ## Description
    Any finite MDP: the next state is drawn from ``T[s, a]`` with the env's own
    random generator and the reward is ``R[s, a, s']``. The model is exposed like
    Gymnasium's toy-text envs, ``env.unwrapped.P[s][a] = [(prob, next_state,
    reward, terminated), ...]``, so planning agents work on it unchanged.

    ## Action Space
    ``Discrete(n_actions)``. Not every action is allowed in every state: the
    allowed ones are published as a boolean mask in ``info["action_mask"]`` and by
    ``action_masks()`` (the sb3-contrib convention).

    ``step()`` accepts every element of the action space, as Gymnasium's contract
    requires (checkers and mask-unaware agents sample any action). With
    ``invalid_action="penalize"`` (default) an impossible action leaves the state
    unchanged, gives ``invalid_action_penalty`` and sets ``info["invalid_action"]``;
    ``P`` shows exactly that transition. The default penalty is
    ``min(min reward, 0) - 1``: strictly below every reward, so for any discount
    ``gamma < 1`` an impossible action is never optimal and leaves V* and the Q* of
    allowed actions unchanged. With ``invalid_action="raise"`` it raises
    ``ValueError``. An action outside the space always raises ``ValueError``.

    ## Observation Space
    ``Discrete(n_states)``: the current state index.

    ## Rewards
    ``R[s, a, s']`` of the transition taken (the penalty for an impossible action).

    ## Starting State
    ``start_state`` (default 0), or a state drawn from ``start_state`` when it is a
    distribution over states.

    ## Episode End
    Terminated on entering a state listed in ``terminal_states``; truncation only
    through ``max_episode_steps`` at registration.

    ## Arguments
    See ``__init__``.

    ## Version History
    * v0: initial version.

    Example:
        >>> env = TabularMDP(
        ...     transition_probs=[[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], None]],
        ...     rewards=[[[0, 1], [0, 0]], [[0, 0], [0, 0]]],
        ...     allowed_actions=[[0, 1], [0]],
        ... )
        >>> env.observation_space, env.action_space
        (Discrete(2), Discrete(2))
        >>> obs, info = env.reset(seed=0)
        >>> obs, info["action_mask"]
        (0, array([ True,  True]))
        >>> env.step(0)[:3]
        (1, 1.0, False)
        >>> env.unwrapped.P[1][1]  # impossible: stay put, pay the penalty
        [(1.0, 1, -1.0, False)]
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(
        self,
        transition_probs: Sequence[Sequence[Sequence[float] | None]] | np.ndarray,
        rewards: Sequence[Sequence[Sequence[float]]] | np.ndarray,
        allowed_actions: Sequence[Sequence[int]] | None = None,
        start_state: int | Sequence[float] = 0,
        terminal_states: Sequence[int] = (),
        invalid_action: Literal["penalize", "raise"] = "penalize",
        invalid_action_penalty: float | None = None,
        render_mode: str | None = None,
    ):
        """Build the MDP and validate every table.

        Args:
            transition_probs: ``T[s][a]`` is a length-``n_states`` distribution over
                next states, or ``None`` (or all zeros) where ``a`` is impossible in ``s``.
            rewards: ``R[s][a][s']``, shape ``(n_states, n_actions, n_states)``.
            allowed_actions: allowed action indices per state; default: the actions
                whose ``T[s][a]`` is given.
            start_state: the initial state, or a distribution over states.
            terminal_states: states whose entry terminates the episode.
            invalid_action: ``"penalize"`` (no-op with a penalty) or ``"raise"``.
            invalid_action_penalty: reward of an impossible action; default
                ``min(min(R), 0) - 1``.
            render_mode: ``None`` or ``"ansi"``.
        """
        T = self._as_transition_array(transition_probs)
        n_states, n_actions = T.shape[:2]
        R = np.asarray(rewards, dtype=np.float64)
        if R.shape != T.shape:
            raise ValueError(
                f"TabularMDP: `rewards` must have shape (n_states, n_actions, n_states) = "
                f"{T.shape} like `transition_probs`, got {R.shape}"
            )
        if not np.all(np.isfinite(R)):
            raise ValueError("TabularMDP: `rewards` must be finite")

        given = T.sum(axis=2) > 0
        if allowed_actions is None:
            allowed = given
        else:
            if len(allowed_actions) != n_states:
                raise ValueError(
                    f"TabularMDP: `allowed_actions` needs one list per state ({n_states}), "
                    f"got {len(allowed_actions)}"
                )
            allowed = np.zeros((n_states, n_actions), dtype=bool)
            for s, acts in enumerate(allowed_actions):
                for a in acts:
                    if not (isinstance(a, (int, np.integer)) and 0 <= a < n_actions):
                        raise ValueError(
                            f"TabularMDP: `allowed_actions[{s}]` holds {a!r}, expected "
                            f"action indices in [0, {n_actions})"
                        )
                    allowed[s, a] = True
        for s in range(n_states):
            if not allowed[s].any():
                raise ValueError(f"TabularMDP: state {s} allows no action")
            for a in np.flatnonzero(allowed[s]):
                total = T[s, a].sum()
                if not np.isclose(total, 1.0, atol=1e-8):
                    raise ValueError(
                        f"TabularMDP: `transition_probs[{s}][{a}]` must sum to 1 for an "
                        f"allowed action, got {total:g}"
                    )

        if invalid_action not in _INVALID_ACTION_MODES:
            raise ValueError(
                f"TabularMDP: `invalid_action` must be one of {_INVALID_ACTION_MODES}, "
                f"got {invalid_action!r}"
            )
        if invalid_action_penalty is None:
            invalid_action_penalty = min(float(R[allowed].min()), 0.0) - 1.0
        elif not np.isfinite(invalid_action_penalty):
            raise ValueError(
                f"TabularMDP: `invalid_action_penalty` must be finite, got {invalid_action_penalty}"
            )

        terminal = np.zeros(n_states, dtype=bool)
        for s in terminal_states:
            if not 0 <= s < n_states:
                raise ValueError(
                    f"TabularMDP: `terminal_states` holds {s}, expected states in [0, {n_states})"
                )
            terminal[s] = True

        if isinstance(start_state, (int, np.integer)):
            if not 0 <= start_state < n_states:
                raise ValueError(
                    f"TabularMDP: `start_state` must be in [0, {n_states}), got {start_state}"
                )
            start = np.zeros(n_states)
            start[start_state] = 1.0
        else:
            start = np.asarray(start_state, dtype=np.float64)
            if start.shape != (n_states,) or np.any(start < 0) or not np.isclose(start.sum(), 1):
                raise ValueError(
                    "TabularMDP: `start_state` must be a state index or a distribution over "
                    f"the {n_states} states"
                )

        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"TabularMDP: `render_mode` must be one of {self.metadata['render_modes']} or "
                f"None, got {render_mode!r}"
            )

        self.n_states, self.n_actions = n_states, n_actions
        self.transition_probs = T
        self.rewards = R
        self.allowed = allowed
        self.terminal = terminal
        self.start_distribution = start
        self.invalid_action = invalid_action
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.render_mode = render_mode
        self.observation_space = spaces.Discrete(n_states)
        self.action_space = spaces.Discrete(n_actions)
        self.P = self._build_model()
        self._cum_probs = np.cumsum(T, axis=2)
        self.s: int | None = None
        self.last_action: int | None = None

    @staticmethod
    def _as_transition_array(transition_probs) -> np.ndarray:
        if isinstance(transition_probs, np.ndarray):
            T = transition_probs.astype(np.float64)
        else:
            rows = list(transition_probs)
            if not rows or not all(isinstance(r, Sequence) and len(r) > 0 for r in rows):
                raise ValueError(
                    "TabularMDP: `transition_probs` must be nested as [state][action][next_state]"
                )
            n_states, n_actions = len(rows), len(rows[0])
            T = np.zeros((n_states, n_actions, n_states))
            for s, row in enumerate(rows):
                if len(row) != n_actions:
                    raise ValueError(
                        f"TabularMDP: `transition_probs[{s}]` has {len(row)} actions, "
                        f"expected {n_actions} like state 0"
                    )
                for a, dist in enumerate(row):
                    if dist is None:
                        continue
                    dist = np.asarray(dist, dtype=np.float64)
                    if dist.shape != (n_states,):
                        raise ValueError(
                            f"TabularMDP: `transition_probs[{s}][{a}]` must have {n_states} "
                            f"next-state probabilities, got shape {dist.shape}"
                        )
                    T[s, a] = dist
        if T.ndim != 3 or T.shape[0] != T.shape[2] or 0 in T.shape:
            raise ValueError(
                "TabularMDP: `transition_probs` must have shape (n_states, n_actions, "
                f"n_states), got {T.shape}"
            )
        if np.any(T < 0) or not np.all(np.isfinite(T)):
            raise ValueError("TabularMDP: `transition_probs` must be finite and non-negative")
        return T

    def _build_model(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        P: dict[int, dict[int, list[tuple[float, int, float, bool]]]] = {}
        for s in range(self.n_states):
            P[s] = {}
            for a in range(self.n_actions):
                if self.allowed[s, a]:
                    P[s][a] = [
                        (float(p), int(s2), float(self.rewards[s, a, s2]), bool(self.terminal[s2]))
                        for s2, p in enumerate(self.transition_probs[s, a])
                        if p > 0
                    ]
                else:
                    P[s][a] = [(1.0, s, self.invalid_action_penalty, False)]
        return P

    def action_masks(self) -> np.ndarray:
        """Boolean mask of the actions allowed in the current state."""
        if self.s is None:
            raise ResetNeeded("TabularMDP: call reset() before action_masks()")
        return self.allowed[self.s].copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode in the start state (drawn, if it is a distribution)."""
        super().reset(seed=seed)
        self.s = int(self.np_random.choice(self.n_states, p=self.start_distribution))
        self.last_action = None
        return self.s, {"action_mask": self.action_masks()}

    def step(self, action: int):
        """Take `action`; an impossible one is penalised or raises (see the class doc)."""
        if self.s is None:
            raise ResetNeeded("TabularMDP: call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(
                f"TabularMDP: action {action!r} is outside the action space {self.action_space}"
            )
        a, s = int(action), self.s
        invalid = not self.allowed[s, a]
        if invalid:
            if self.invalid_action == "raise":
                raise ValueError(
                    f"TabularMDP: action {a} is not allowed in state {s} (allowed: "
                    f"{np.flatnonzero(self.allowed[s]).tolist()})"
                )
            s2, reward = s, self.invalid_action_penalty
        else:
            s2 = int(np.searchsorted(self._cum_probs[s, a], self.np_random.random(), side="right"))
            s2 = min(s2, self.n_states - 1)  # guards against cumsum rounding below 1
            reward = float(self.rewards[s, a, s2])
        self.s, self.last_action = s2, a
        info = {"action_mask": self.action_masks(), "invalid_action": np.bool_(invalid)}
        return s2, reward, bool(self.terminal[s2]), False, info

    def render(self) -> str | np.ndarray | None:
        """Text (``"ansi"``) or a picture of the states with the current one filled."""
        if self.render_mode is None:
            gym.logger.warn("TabularMDP: render() called without a render_mode")
            return None
        if self.render_mode == "rgb_array":
            return self._render_rgb()
        out = StringIO()
        cells = [f"[{s}]" if s == self.s else f" {s} " for s in range(self.n_states)]
        out.write(" ".join(cells))
        if self.last_action is not None:
            out.write(f"  (last action: {self.last_action})")
        out.write("\n")
        return out.getvalue()

    def _render_rgb(self, cell: int = 64) -> np.ndarray:
        import cv2

        frame = np.full((cell, cell * self.n_states, 3), 255, dtype=np.uint8)
        for s in range(self.n_states):
            center = (cell * s + cell // 2, cell // 2)
            filled = s == self.s
            cv2.circle(frame, center, cell // 3, (40, 90, 200), -1 if filled else 2, cv2.LINE_AA)
            color = (255, 255, 255) if filled else (40, 90, 200)
            cv2.putText(
                frame,
                str(s),
                (center[0] - 8, center[1] + 8),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.7,
                color,
                2,
                cv2.LINE_AA,
            )
        return frame


class ToyMDP(TabularMDP):
    """The book's three-state MDP (Hands-On ML, chapter 18), registered as ``ToyMDP-v0``.

    ## Description
    Three states, three actions. State 0 allows actions 0, 1, 2; state 1 allows 0
    and 2; state 2 allows only 1. The transition probabilities and rewards are the
    chapter's: staying in state 0 with action 0 pays +10, going from 1 to 2 with
    action 2 costs -50, and action 1 in state 2 pays +40 on its way back to 0.
    With gamma = 0.9 the optimal policy is (0, 0, 1) with
    Q* = [[18.92, 17.03, 13.62], [0.00, -, -4.88], [-, 50.13, -]].

    ## Episode End
    A continuing task: it never terminates. The registered id truncates after
    ``max_episode_steps=100`` so episodic libraries get episodes.

    Impossible actions, masks and rendering behave as in `TabularMDP`; the default
    penalty is -51.

    Example:
        >>> import gymnasium as gym
        >>> import gymkit
        >>> env = gym.make("ToyMDP-v0")
        >>> env.observation_space, env.action_space
        (Discrete(3), Discrete(3))
        >>> env.reset(seed=42)
        (0, {'action_mask': array([ True,  True,  True])})
        >>> env.unwrapped.P[2][1]
        [(0.8, 0, 40.0, False), (0.1, 1, 0.0, False), (0.1, 2, 0.0, False)]
    """

    def __init__(
        self,
        invalid_action: Literal["penalize", "raise"] = "penalize",
        invalid_action_penalty: float | None = None,
        render_mode: str | None = None,
    ):
        """Build the toy MDP.

        Args:
            invalid_action: ``"penalize"`` (default) or ``"raise"``, see `TabularMDP`.
            invalid_action_penalty: reward of an impossible action (default -51).
            render_mode: ``None`` or ``"ansi"``.
        """
        super().__init__(
            TOY_MDP_TRANSITIONS,
            TOY_MDP_REWARDS,
            TOY_MDP_ALLOWED,
            start_state=0,
            invalid_action=invalid_action,
            invalid_action_penalty=invalid_action_penalty,
            render_mode=render_mode,
        )
