"""The book's hard-coded CartPole policy: push the cart the way the pole leans.

Plays 500 episodes of CartPole-v1 (capped at 200 steps, as in the book) with
``action = 0 if angle < 0 else 1`` and reports the score's mean, median, std, min
and max (the book: 42.37, 41, 9.14, 24, 72), a plot of every episode's score and a
GIF of the first episode (recorded with gymkit's ``RecordVideo``).

    python demos/cartpole_basic_policy.py            # 500 episodes
    python demos/cartpole_basic_policy.py --quick    # 100 episodes
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
from demo_io import announce_videos, budget_name, new_figure, run_from_command_line, save_figure
from tqdm.auto import tqdm

from gymkit.wrappers import RecordVideo

# --- settings -------------------------------------------------------------------------
NAME = "cartpole_basic_policy"
SEED = 42
ENV_ID = "CartPole-v1"
MAX_STEPS = 200  # the book's cap per episode
EPISODES = {"quick": 100, "default": 500, "full": 500}
BOOK = {"mean": 42.37, "median": 41.0, "std": 9.14, "min": 24.0, "max": 72.0}


def basic_policy(obs: np.ndarray) -> int:
    """Push left (0) when the pole leans left, right (1) otherwise."""
    angle = obs[2]
    return 0 if angle < 0 else 1


def play(env: gym.Env, n_episodes: int) -> np.ndarray:
    """The score (steps balanced) of ``n_episodes`` episodes of `basic_policy`."""
    scores = []
    obs, _ = env.reset(seed=SEED)  # seeds this episode and, through the env, all later ones
    for episode in tqdm(range(n_episodes), desc="basic policy", unit="episode"):
        if episode > 0:
            obs, _ = env.reset()
        score = 0.0
        for _ in range(MAX_STEPS):
            obs, reward, terminated, truncated, _ = env.step(basic_policy(obs))
            score += reward
            if terminated or truncated:
                break
        scores.append(score)
    return np.asarray(scores)


def plot_scores(scores: np.ndarray, path: Path) -> Path:
    fig = new_figure(figsize=(12, 4.5))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    left.plot(scores, "k-", linewidth=0.8, label="score of the episode")
    left.axhline(
        scores.mean(), color="r", linestyle="--", linewidth=3, label=f"mean {scores.mean():.1f}"
    )
    left.set(
        title="Basic policy on CartPole (lean left → push left)",
        xlabel="episode",
        ylabel="score (steps balanced)",
        xlim=(0, len(scores)),
    )
    left.legend(loc="upper right")
    right.hist(
        scores,
        bins=np.arange(scores.min(), scores.max() + 3, 2),
        orientation="horizontal",
        color="0.4",
    )
    right.axhline(
        BOOK["mean"],
        color="tab:blue",
        linestyle=":",
        linewidth=2,
        label=f"book's mean {BOOK['mean']}",
    )
    right.set(title="distribution", xlabel="episodes")
    right.legend(loc="upper right")
    return save_figure(fig, path)


def main(quick: bool = False, out: Path = Path("outputs"), full: bool = False) -> dict:
    n_episodes = EPISODES[budget_name(quick, full)]
    folder = out / NAME
    print(f"[{NAME}] {n_episodes} episodes of the hard-coded policy on {ENV_ID}")

    env = gym.make(ENV_ID, render_mode="rgb_array")
    # Records the first episode only; the other episodes pay nothing for it.
    env = RecordVideo(
        env, folder, episode_trigger=1, max_videos=1, formats=("gif",), name_prefix="basic-policy"
    )
    scores = play(env, n_episodes)
    env.close()

    stats = {
        "mean": scores.mean(),
        "median": np.median(scores),
        "std": scores.std(),
        "min": scores.min(),
        "max": scores.max(),
    }
    for key, value in stats.items():
        print(f"  {key:>6}: {value:6.2f}   (book: {BOOK[key]:6.2f})")
    files = [plot_scores(scores, folder / "scores.png")]
    files += announce_videos(env, folder)
    summary = (
        f"{n_episodes} episodes: mean {stats['mean']:.2f}, median {stats['median']:.0f}, "
        f"std {stats['std']:.2f}, min {stats['min']:.0f}, max {stats['max']:.0f} "
        f"(book: {', '.join(f'{BOOK[key]:g}' for key in stats)})"
    )
    return {"name": NAME, "summary": summary, "files": files}


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
