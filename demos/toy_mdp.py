"""The book's three-state MDP: Q-value iteration, Q-learning and two exploration policies.

1. Q-value iteration (gamma = 0.9) gives Q*, V* and the optimal policy from the model.
2. Q-learning with the book's random exploration and decaying learning rate
   (alpha = 0.05 / (1 + 0.005 t)) for 10,000 steps, with the book's plot of every
   Q-value over the steps (one line per allowed (s, a); Q* dashed).
3. The same run with epsilon-greedy exploration (epsilon 1 -> 0.05) and with the
   exploration function f(Q, N) = Q + kappa / (1 + N), side by side: their Q-values,
   the error max |Q - Q*| over many seeds, and where each spends its steps. The
   exploration function is greedy on its bonus-raised Q: the bar chart shows where
   that takes it on this MDP, whose optimal policy ends in state 1's zero-reward loop.

The env is ``ToyMDP-v0``: the book's continuing task, cut into 100-step episodes by
its registered time limit; Q-learning bootstraps through the cut, so only the restart
in state 0 differs from the book's endless run.

    python demos/toy_mdp.py            # 10,000 steps, exploration compared over 10 seeds
    python demos/toy_mdp.py --quick    # 2,000 steps, 2 seeds
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
from demo_io import budget_name, new_figure, run_from_command_line, save_figure
from tqdm.auto import tqdm

import gymkit  # noqa: F401  (registers ToyMDP-v0)
from gymkit.agents import QLearningAgent, QLearningConfig, ValueIterationAgent, ValueIterationConfig

# --- settings -------------------------------------------------------------------------
NAME = "toy_mdp"
SEED = 42
ENV_ID = "ToyMDP-v0"
GAMMA = 0.90
STEPS = {"quick": 2_000, "default": 10_000, "full": 10_000}
SEEDS = {"quick": 2, "default": 10, "full": 30}  # runs per exploration in the comparison
# The bonus must be on the scale of the rewards (|R| <= 50) to matter at all: with
# kappa = 1 one -50 transition ends all curiosity about it.
KAPPA = 50.0
EXPLORATIONS = {
    "random (book)": dict(exploration="random"),
    "ε-greedy (1 → 0.05)": dict(exploration="epsilon_greedy", epsilon_start=1.0, epsilon_end=0.05),
    f"exploration function (κ={KAPPA:g})": dict(exploration="exploration_function", kappa=KAPPA),
}
BOOK_Q_LEARNING = np.array(
    [[17.42, 15.63, 12.54], [0.0, -np.inf, -8.93], [-np.inf, 48.37, -np.inf]]
)


def q_learning(steps: int, seed: int, **exploration) -> QLearningAgent:
    """Q-learning on a fresh ToyMDP-v0 with the book's learning rate and the Q history kept."""
    config = QLearningConfig(
        gamma=GAMMA,
        seed=seed,
        record_q_history=True,
        epsilon_decay_steps=steps,
        **exploration,
    )
    return QLearningAgent(gym.make(ENV_ID), config).learn(steps)


def q_error(agent: QLearningAgent, q_star: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """max over allowed (s, a) of |Q_t(s, a) - Q*(s, a)|, for every step t."""
    history = np.asarray(agent.history["q_values"])
    return np.abs(history[:, allowed] - q_star[allowed]).max(axis=1)


def plot_q_traces(ax, agent: QLearningAgent, q_star: np.ndarray, allowed: np.ndarray, title: str):
    history = np.asarray(agent.history["q_values"])
    for i, (s, a) in enumerate(np.argwhere(allowed)):
        color = f"C{i}"
        ax.plot(history[:, s, a], color=color, label=f"$Q(s_{s}, a_{a})$")
        ax.axhline(q_star[s, a], color=color, linestyle="--", linewidth=1)
    ax.set(title=title, xlabel="steps", ylabel="Q-value", xlim=(0, len(history)))


def plot_book_run(agent, q_star, allowed, path: Path) -> Path:
    fig = new_figure(figsize=(10, 6))
    ax = fig.subplots()
    title = f"Q-learning on the toy MDP, random exploration (Q* dashed; seed {SEED})"
    plot_q_traces(ax, agent, q_star, allowed, title)
    impossible = ", ".join(f"$s_{s}a_{a}$" for s, a in np.argwhere(~allowed))
    ax.legend(
        loc="center left",
        bbox_to_anchor=(1, 0.5),
        title=f"allowed pairs\n(impossible:\n{impossible})",
    )
    return save_figure(fig, path)


def plot_exploration(shown, errors, visits, q_star, allowed, path: Path) -> Path:
    """Q-values of epsilon-greedy and the exploration function, the errors, the visits."""
    names = list(EXPLORATIONS)
    fig = new_figure(figsize=(14, 10), layout="constrained")
    (ax_eps, ax_fn), (ax_err, ax_visits) = fig.subplots(2, 2)
    plot_q_traces(ax_eps, shown[names[1]], q_star, allowed, f"{names[1]}, seed {SEED}")
    plot_q_traces(ax_fn, shown[names[2]], q_star, allowed, f"{names[2]}, seed {SEED}")
    ax_fn.sharey(ax_eps)
    ax_eps.legend(loc="lower right", ncol=2, fontsize="small")

    for i, name in enumerate(names):
        err = np.asarray(errors[name])
        median = np.median(err, axis=0)
        ax_err.plot(median, color=f"C{i}", label=f"{name}: {median[-1]:.1f} at the end")
        steps = np.arange(err.shape[1])
        ax_err.fill_between(steps, err.min(axis=0), err.max(axis=0), color=f"C{i}", alpha=0.2)
    ax_err.set(
        title=f"error of the Q-table, median and range over {len(errors[names[0]])} seeds",
        xlabel="steps",
        ylabel="max over allowed (s, a) of |Q − Q*|",
        xlim=(0, len(steps)),
    )
    ax_err.legend(loc="upper right")

    pairs = [tuple(p) for p in np.argwhere(allowed)]
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        share = np.mean(visits[name], axis=0)
        offset = (i - (len(names) - 1) / 2) * width
        ax_visits.bar(
            np.arange(len(pairs)) + offset,
            [share[p] for p in pairs],
            width,
            color=f"C{i}",
            label=name,
        )
    ax_visits.set_xticks(np.arange(len(pairs)), [f"$s_{s}, a_{a}$" for s, a in pairs])
    ax_visits.set(
        title="where the steps go (mean over seeds)",
        xlabel="(state, action)",
        ylabel="share of the steps",
        yscale="log",
    )
    ax_visits.legend(loc="upper right", fontsize="small")
    return save_figure(fig, path)


def format_q(q: np.ndarray) -> str:
    rows = [
        "[" + ", ".join("   -  " if np.isinf(v) else f"{v:6.2f}" for v in row) + "]" for row in q
    ]
    return "\n        ".join(rows)


def main(quick: bool = False, out: Path = Path("outputs"), full: bool = False) -> dict:
    budget = budget_name(quick, full)
    steps, n_seeds = STEPS[budget], SEEDS[budget]
    folder = out / NAME

    # 1. Q-value iteration on the model (env.unwrapped.P).
    vi = ValueIterationAgent(gym.make(ENV_ID), ValueIterationConfig(gamma=GAMMA)).learn()
    q_star, allowed = vi.q_values, vi.allowed
    print(f"[{NAME}] Q-value iteration, gamma={GAMMA}: {vi.n_iterations} sweeps")
    print(f"  Q*  = {format_q(q_star)}")
    print(f"  V*  = {np.round(vi.values, 2).tolist()}, optimal policy {vi.policy.tolist()}")

    # 2. Q-learning with each exploration policy, from several seeds.
    print(
        f"[{NAME}] Q-learning, {steps:,} steps: {len(EXPLORATIONS)} explorations x {n_seeds} seeds"
    )
    errors = {name: [] for name in EXPLORATIONS}
    visits = {name: [] for name in EXPLORATIONS}
    shown = {}  # the runs from SEED, whose Q-values are plotted
    runs = [(name, seed) for name in EXPLORATIONS for seed in range(SEED, SEED + n_seeds)]
    for name, seed in tqdm(runs, desc="Q-learning runs", unit="run"):
        agent = q_learning(steps, seed, **EXPLORATIONS[name])
        errors[name].append(q_error(agent, q_star, allowed))
        visits[name].append(agent.visits / steps)
        if seed == SEED:
            shown[name] = agent

    # 3. The book's run (random exploration) and its plot.
    names = list(EXPLORATIONS)
    book_run = shown[names[0]]
    print(f"  Q   = {format_q(book_run.q_values)}   (random exploration, seed {SEED})")
    print(f"  book: {format_q(BOOK_Q_LEARNING)}   (after 10,000 steps)")
    files = [plot_book_run(book_run, q_star, allowed, folder / "q_learning.png")]

    # 4. The explorations compared.
    files.append(
        plot_exploration(shown, errors, visits, q_star, allowed, folder / "exploration.png")
    )
    finals = {name: float(np.median([e[-1] for e in errors[name]])) for name in names}
    for name in names:
        share = np.mean(visits[name], axis=0)
        print(
            f"  {name:>28}: median max|Q - Q*| {finals[name]:5.1f} after {steps:,} steps; "
            f"steps in state 1: {share[1].sum():.0%}"
        )
    summary = (
        f"Q* from value iteration ({vi.n_iterations} sweeps), policy {vi.policy.tolist()}; "
        f"Q-learning {steps:,} steps: Q(s0,a0) {book_run.q_values[0, 0]:.2f} vs Q* "
        f"{q_star[0, 0]:.2f}; median max|Q-Q*| over {n_seeds} seeds: "
        + ", ".join(f"{name.split(' (')[0]} {finals[name]:.1f}" for name in names)
    )
    return {"name": NAME, "summary": summary, "files": files}


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
