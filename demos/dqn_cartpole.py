"""DQN on CartPole: plain, double and dueling, with the learning curves.

gymkit's ``DQNAgent`` (stable-baselines3's DQN) with its CartPole settings
(``DQNConfig.cartpole``: a 64-64 MLP, Adam 1e-3, replay buffer of 50,000, target
network copied every 1,000 steps, epsilon 1 -> 0.05 over 10,000 steps), in three
variants that each change one thing from plain DQN, as the book introduces them:

- plain DQN: target ``r + gamma max_a Q_target(s', a)``;
- double DQN: the online network picks ``a``, the target network scores it;
- dueling DQN: ``Q = V + A - max A`` (the book's head), plain target.

Every 2,500 steps 10 greedy episodes measure the policy; training stops early once
their mean reaches 475. The demo plots the length of every training episode (the
book's plot) and the greedy evaluations, and records a GIF of each trained policy.
DQN on CartPole is unstable, as the book says: the curves rise and fall. The default
budget of 20,000 steps shows the learning, not a solved task; ``--full`` gives each
variant up to 100,000 steps.

    python demos/dqn_cartpole.py            # up to 20,000 steps per variant
    python demos/dqn_cartpole.py --quick    # 1,500 steps per variant: not trained
    python demos/dqn_cartpole.py --full     # up to 100,000 steps per variant
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from demo_io import budget_name, new_figure, record_episode, run_from_command_line, save_figure

from gymkit.agents import DQNAgent, DQNConfig, evaluate

# --- settings -------------------------------------------------------------------------
NAME = "dqn_cartpole"
SEED = 42
ENV_ID = "CartPole-v1"
VARIANTS = {  # label -> (file-name key, DQNConfig.cartpole overrides)
    "DQN": ("dqn", dict(double_q=False)),
    "double DQN": ("double", dict(double_q=True)),
    "dueling DQN": ("dueling", dict(double_q=False, dueling=True, dueling_aggregation="max")),
}
STEPS = {"quick": 1_500, "default": 20_000, "full": 100_000}  # at most, per variant
QUICK_SETTINGS = dict(learning_starts=500, exploration_steps=1_000, eval_freq=500, eval_episodes=3)
EVAL_EPISODES = {"quick": 10, "default": 100, "full": 100}  # final greedy evaluation
SMOOTHING = 20  # training episodes in the moving average


def train(overrides: dict, steps: int, quick: bool) -> DQNAgent:
    config = DQNConfig.cartpole(seed=SEED, **overrides, **(QUICK_SETTINGS if quick else {}))
    return DQNAgent(gym.make(ENV_ID), config).learn(steps, progress_bar=True)


def moving_average(values: list[float], window: int) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot_learning_curves(results: dict, steps: int, path: Path) -> Path:
    fig = new_figure(figsize=(14, 5.5), layout="constrained")
    ax_train, ax_eval = fig.subplots(1, 2)
    for i, (label, r) in enumerate(results.items()):
        history = r["agent"].history
        lengths = history["episode_length"]
        ax_train.plot(lengths, color=f"C{i}", alpha=0.25, linewidth=0.8)
        smooth = moving_average(lengths, SMOOTHING)
        ax_train.plot(
            np.arange(len(lengths) - len(smooth), len(lengths)),
            smooth,
            color=f"C{i}",
            label=f"{label} ({SMOOTHING}-episode mean)",
        )
        trained = r["agent"].model.num_timesteps
        stop = "stopped early" if trained < steps else "full budget"
        ax_eval.plot(
            history["eval_step"],
            history["eval_mean"],
            "o-",
            color=f"C{i}",
            label=f"{label}: {trained:,} steps ({stop}), final score {r['scores'].mean():.1f}",
        )
    ax_train.set(
        title="Training of a DQN on CartPole (the book's plot)",
        xlabel="training episodes",
        ylabel="length of the CartPole episode",
        ylim=(0, 640),  # headroom for the legend above the 500-step cap
    )
    ax_train.legend(loc="upper left")
    ax_eval.axhline(475, color="0.4", linestyle="--", linewidth=1, label="early stopping at 475")
    ax_eval.set(
        title="greedy policy during training (mean of the evaluation episodes)",
        xlabel="env steps",
        ylabel="mean score",
        ylim=(0, 640),
        xlim=(0, None),
    )
    ax_eval.legend(loc="upper left", fontsize="small")
    fig.suptitle(f"DQN variants on {ENV_ID}, seed {SEED}, at most {steps:,} steps each")
    return save_figure(fig, path)


def main(quick: bool = False, out: Path = Path("outputs"), full: bool = False) -> dict:
    budget = budget_name(quick, full)
    steps, n_eval = STEPS[budget], EVAL_EPISODES[budget]
    folder = out / NAME
    torch.set_num_threads(1)  # a 64-64 MLP: more threads only contend for the 2 cores
    files, results, measured = [], {}, []
    for label, (key, overrides) in VARIANTS.items():
        print(f"[{NAME}] {label} on {ENV_ID}, at most {steps:,} steps")
        agent = train(overrides, steps, quick)
        scores = evaluate(agent, ENV_ID, n_episodes=n_eval, seed=SEED + 1_000)
        trained = agent.model.num_timesteps
        print(
            f"  {trained:,} steps, {len(agent.history['episode_length'])} episodes; "
            f"greedy policy: mean score {scores.mean():.1f} over {n_eval} episodes"
        )
        files += record_episode(agent.predict, ENV_ID, folder, f"trained-policy-{key}", seed=SEED)
        results[label] = {"agent": agent, "scores": scores}
        measured.append(f"{label}: {trained:,} steps, greedy score {scores.mean():.1f}")

    files.insert(0, plot_learning_curves(results, steps, folder / "learning_curves.png"))
    summary = "; ".join(measured) + f" (mean of {n_eval} episodes, max 500)"
    return {"name": NAME, "summary": summary, "files": files}


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
