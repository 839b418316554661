"""REINFORCE on CartPole with and without the book's angle-shaped reward, with early stopping.

The book's policy gradient (gymkit's ``ReinforceAgent`` with the book's settings: one
hidden layer of 5 ELU units, Adam 0.01, gamma 0.95, 10 episodes per update, returns
discounted and normalised over the batch) trains twice:

- on ``CartPole-v1``'s own reward (+1 per step);
- on ``ShapedCartPole-v1``: ``reward - min(|pole angle|, 0.7)``, the book's shaping.

Training stops early once the batch's mean true score reaches 475 three updates in a
row (the book's early stopping; CartPole-v1 episodes end at 500 steps where the book
cut them at 200). Each trained policy then plays 100 greedy episodes of plain
CartPole-v1 and one recorded episode. The demo writes the learning curves (average
episode length per iteration, the book's plot) and a GIF of each trained policy
(gymkit's ``RecordVideo``).

    python demos/reinforce_cartpole.py            # up to 150 iterations each (the book's)
    python demos/reinforce_cartpole.py --quick    # 10 iterations each: not trained
    python demos/reinforce_cartpole.py --full     # up to 1,000 iterations each
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from demo_io import budget_name, new_figure, record_episode, run_from_command_line, save_figure

import gymkit  # noqa: F401  (registers ShapedCartPole-v1)
from gymkit.agents import ReinforceAgent, ReinforceConfig, evaluate

# --- settings -------------------------------------------------------------------------
NAME = "reinforce_cartpole"
SEED = 42
VARIANTS = {  # label -> (training env id, file-name key)
    "CartPole-v1 reward": ("CartPole-v1", "plain"),
    "angle-shaped reward": ("ShapedCartPole-v1", "shaped"),
}
ITERATIONS = {"quick": 10, "default": 150, "full": 1_000}  # at most; early stopping ends sooner
EVAL_EPISODES = {"quick": 10, "default": 100, "full": 100}
TARGET_SCORE = 475.0  # CartPole-v1's reward threshold
PATIENCE = 3  # updates in a row at the target before stopping


def train(env_id: str, iterations: int) -> ReinforceAgent:
    config = ReinforceConfig(seed=SEED, target_score=TARGET_SCORE, patience=PATIENCE)
    agent = ReinforceAgent(env_id, config)
    return agent.learn(iterations, progress_bar=True)


def plot_learning_curves(results: dict, iterations: int, path: Path) -> Path:
    fig = new_figure(figsize=(10, 5.5))
    ax = fig.subplots()
    for i, (label, r) in enumerate(results.items()):
        lengths = r["agent"].history["mean_length"]
        stop = (
            f"stopped early at iteration {len(lengths)}"
            if len(lengths) < iterations
            else f"no early stop in {iterations} iterations"
        )
        ax.plot(
            np.arange(1, len(lengths) + 1),
            lengths,
            color=f"C{i}",
            label=f"{label}: {stop}; greedy score {r['scores'].mean():.1f}",
        )
    ax.axhline(
        TARGET_SCORE,
        color="0.4",
        linestyle="--",
        linewidth=1,
        label=f"early stopping: mean score ≥ {TARGET_SCORE:g}, {PATIENCE} updates in a row",
    )
    ax.set(
        title=f"REINFORCE on CartPole: improvement over training iterations (seed {SEED})",
        xlabel="iteration (one update on 10 episodes)",
        ylabel="average length of the episodes",
        ylim=(0, 520),
    )
    ax.legend(loc="lower right", fontsize="small")
    return save_figure(fig, path)


def main(quick: bool = False, out: Path = Path("outputs"), full: bool = False) -> dict:
    budget = budget_name(quick, full)
    iterations, n_eval = ITERATIONS[budget], EVAL_EPISODES[budget]
    folder = out / NAME
    files, results, measured = [], {}, []
    for label, (env_id, key) in VARIANTS.items():
        print(f"[{NAME}] REINFORCE on {env_id} ({label}), at most {iterations} iterations")
        agent = train(env_id, iterations)
        scores = evaluate(agent, "CartPole-v1", n_episodes=n_eval, seed=SEED + 1_000)
        print(
            f"  {agent.n_updates} iterations ({len(agent.history['score'])} episodes); greedy "
            f"policy on CartPole-v1: mean score {scores.mean():.1f} over {n_eval} episodes"
        )
        # One greedy episode of plain CartPole-v1, whichever reward trained the policy.
        files += record_episode(
            agent.predict, "CartPole-v1", folder, f"trained-policy-{key}", seed=SEED
        )
        results[label] = {"agent": agent, "scores": scores}
        measured.append(f"{label}: {agent.n_updates} iterations, greedy score {scores.mean():.1f}")
        agent.close()

    files.insert(0, plot_learning_curves(results, iterations, folder / "learning_curves.png"))
    summary = "; ".join(measured) + f" (mean of {n_eval} CartPole-v1 episodes, max 500)"
    return {"name": NAME, "summary": summary, "files": files}


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
