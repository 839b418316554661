"""The Atari pipeline: what a DQN agent sees of Breakout through gymkit's preset, and how fast.

``make_atari("Breakout", profile="gymnasium")`` (= Gymnasium's ``AtariPreprocessing``
+ ``FrameStackObservation(4)``, bit for bit) is played by a random policy, and the demo
writes:

- ``observations.png``: a batch of stacked observations drawn like the book's
  ``plot_observation`` (the three older frames as red, green and blue, the newest one
  in pink), two runs of three consecutive steps, as in the book's figure;
- ``frame_stack.png``: one step as the emulator renders it, the four 84x84 frames the
  agent receives, and the same stack in the book's colours;
- ``breakout-agent-view-episode-0.mp4`` / ``.gif``: the raw frames beside the agent's
  view (gymkit's ``RecordVideo(frame_source="agent_view")``), with a text bar;
- ``throughput.md`` / ``throughput.png``: the table of ``benchmarks/atari_throughput.py``
  (emulator frames per second of gymkit's stack beside the bare emulator and the
  Gymnasium and SB3 stacks), run as a subprocess.

    python demos/atari_pipeline.py           # 1,000 steps, benchmark --quick (1 round)
    python demos/atari_pipeline.py --quick   # 150 steps, benchmark --quick on 2 stacks
    python demos/atari_pipeline.py --full    # 2,000 steps, the benchmark's 3 rounds
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from demo_io import (
    announce,
    announce_videos,
    budget_name,
    new_figure,
    run_from_command_line,
    save_figure,
)
from tqdm.auto import tqdm

from gymkit.wrappers import RecordVideo, make_atari, observation_to_image

# --- settings -------------------------------------------------------------------------
NAME = "atari_pipeline"
SEED = 42
GAME = "Breakout"
PROFILE = "gymnasium"
STEPS = {"quick": 150, "default": 1_000, "full": 2_000}  # agent steps of the random policy
VIDEO_FPS = 15  # real time: the emulator runs at 60 Hz and an agent step is 4 frames
GIF_MAX_FRAMES = 300  # the MP4 keeps the whole episode; the GIF stays small for a README
BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "atari_throughput.py"
BENCHMARK_ARGS = {
    "quick": ["--quick", "--only", "gymkit single", "Gymnasium AtariPreprocessing"],
    "default": ["--quick"],
    "full": [],
}


def motion(stack: np.ndarray) -> int:
    """How much the newest frame differs from the one before (ball and paddle moving)."""
    return int(np.abs(stack[-1].astype(np.int16) - stack[-2]).sum())


def play(steps: int, folder: Path):
    """Play the random policy; record the first game's agent view; keep what we plot.

    Returns a dict: the ``observations``, the game index (``episodes``) and the
    ``motions`` of each step, the ``best`` (liveliest) step with its emulator frame, the
    ``points`` scored, the number of ``games_over`` and the ``videos`` written.
    """
    env = make_atari(GAME, PROFILE, render_mode="rgb_array")
    env = RecordVideo(
        env,
        folder,
        episode_trigger=1,
        max_videos=1,
        formats=("mp4", "gif"),
        name_prefix="breakout-agent-view",
        fps=VIDEO_FPS,
        frame_source="agent_view",
        text_overlay=True,
        gif_max_frames=GIF_MAX_FRAMES,
    )
    rng = np.random.default_rng(SEED)
    observations, episode_of_step, motions = [], [], []
    best = {"motion": -1}
    episode, points = 0, 0.0
    obs, info = env.reset(seed=SEED)
    for _ in tqdm(range(steps), desc="Breakout, random policy", unit="step"):
        obs, reward, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        points += float(reward)
        observations.append(obs)
        episode_of_step.append(episode)
        motions.append(motion(obs))
        if motions[-1] > best["motion"]:  # keep the liveliest step's raw frame for the figure
            best = {
                "motion": motions[-1],
                "obs": obs,
                "frame": env.render(),
                "step": len(observations) - 1,
            }
        if terminated or truncated:
            episode += 1
            obs, info = env.reset()
    env.close()
    return {
        "observations": np.asarray(observations),
        "episodes": np.asarray(episode_of_step),
        "motions": np.asarray(motions, dtype=float),
        "best": best,
        "points": points,
        "games_over": episode,
        "videos": announce_videos(env, folder),
    }


def pick_windows(motions: np.ndarray, episodes: np.ndarray, n: int = 2, length: int = 3):
    """Start steps of ``n`` non-overlapping runs of ``length`` steps with the most motion."""
    window = np.convolve(motions, np.ones(length), mode="valid")
    # A run must stay inside one episode.
    window[episodes[length - 1 :] != episodes[: len(window)]] = -1
    starts = []
    for start in np.argsort(window)[::-1]:
        if all(abs(start - s) >= length for s in starts):
            starts.append(int(start))
        if len(starts) == n:
            break
    return sorted(starts)


def plot_observation_batch(observations, starts, length, path: Path) -> Path:
    fig = new_figure(figsize=(10, 7.2))
    axes = fig.subplots(len(starts), length)
    for row, start in enumerate(starts):
        for col in range(length):
            ax = axes[row, col]
            ax.imshow(observation_to_image(observations[start + col], style="overlay"))
            ax.set_title(f"step {start + col}", fontsize=10)
            ax.axis("off")
    fig.suptitle(
        f"A batch of observations from make_atari({GAME!r}, profile={PROFILE!r}): 4 stacked "
        "84x84 frames each,\nthe 3 older ones as red/green/blue, the newest in pink "
        "(the book's plot_observation)",
        fontsize=11,
    )
    fig.subplots_adjust(left=0, right=1, bottom=0, top=0.88, hspace=0.12, wspace=0.02)
    return save_figure(fig, path)


def plot_frame_stack(best: dict, path: Path) -> Path:
    stack = best["obs"]
    fig = new_figure(figsize=(15, 4.2), layout="constrained")
    widths = [1.3] + [1] * (len(stack) + 1)  # the emulator frame is taller than wide
    axes = fig.subplots(1, len(stack) + 2, gridspec_kw={"width_ratios": widths})
    axes[0].imshow(best["frame"])
    axes[0].set_title(f"emulator frame\n{best['frame'].shape[1]}x{best['frame'].shape[0]} RGB")
    for i, frame in enumerate(stack):
        axes[i + 1].imshow(frame, cmap="gray", vmin=0, vmax=255)
        age = len(stack) - 1 - i
        axes[i + 1].set_title(f"obs[{i}]: {'newest' if age == 0 else f't-{age}'}\n84x84 gray")
    axes[-1].imshow(observation_to_image(stack, style="overlay"))
    axes[-1].set_title("the 4 frames in\nthe book's colours")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(
        f"What the agent sees at step {best['step']}: observation shape {stack.shape}, "
        "frame skip 4 with max-pooling, gray, 84x84, stack of 4"
    )
    return save_figure(fig, path)


def run_benchmark(args: list[str], folder: Path) -> tuple[str, list, Path]:
    """Run the throughput benchmark; keep its tables; return the header and rows of the first.

    A row is (pipeline, median frames/s, median ratio to the bare emulator).
    """
    print(f"[{NAME}] timing the pipelines: {BENCHMARK.name} {' '.join(args)} (a subprocess)")
    command = [sys.executable, str(BENCHMARK), "--game", GAME, *args]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        lines = []
        for line in process.stdout:  # echo its progress ("round 1/3 done"), keep the rest
            lines.append(line)
            if line.startswith("round "):
                print(f"  benchmark {line.strip()}", flush=True)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command, "".join(lines))
    output = "".join(lines)
    table_text = output[output.index(f"\n{GAME}, frame skip") :].strip()
    path = folder / "throughput.md"
    path.write_text(
        f"# Atari preprocessing throughput\n\n`python benchmarks/{BENCHMARK.name} "
        f"{' '.join(args)}`\n\n{table_text}\n"
    )
    announce(path)
    header, table = table_text.split("\n\n", 2)[:2]
    rows = []
    for line in table.splitlines()[2:]:  # the first table's body
        name, fps, ratio = (cell.strip() for cell in line.strip("|").split("|")[:3])
        rows.append((name, float(re.sub(r"[^\d.]", "", fps.split()[0])), float(ratio.split()[0])))
    return header, rows, path


def plot_throughput(rows, title: str, path: Path) -> Path:
    fig = new_figure(figsize=(11, 0.45 * len(rows) + 1.6), layout="constrained")
    ax = fig.subplots()
    names = [name for name, _, _ in rows][::-1]
    fps = [f for _, f, _ in rows][::-1]
    colors = ["tab:orange" if "gymkit" in n else "0.55" for n in names]
    bars = ax.barh(names, fps, color=colors)
    ax.bar_label(bars, [f" {r:.2f}x bare" for _, _, r in rows][::-1], fontsize=9)
    ax.set(title=title, xlabel="emulator frames per second (higher is better)")
    ax.set_xlim(0, max(fps) * 1.25)
    return save_figure(fig, path)


def main(quick: bool = False, out: Path = Path("outputs"), full: bool = False) -> dict:
    budget = budget_name(quick, full)
    folder = out / NAME
    folder.mkdir(parents=True, exist_ok=True)
    steps = STEPS[budget]
    print(f"[{NAME}] {GAME} through make_atari(profile={PROFILE!r}), random policy, {steps} steps")

    played = play(steps, folder)
    observations = played["observations"]
    files = list(played["videos"])
    starts = pick_windows(played["motions"], played["episodes"])
    files.append(plot_observation_batch(observations, starts, 3, folder / "observations.png"))
    files.append(plot_frame_stack(played["best"], folder / "frame_stack.png"))

    header, rows, table = run_benchmark(BENCHMARK_ARGS[budget], folder)
    files.append(table)
    setup, timing = header.split("; ", 1)
    files.append(
        plot_throughput(
            rows,
            f"{setup}, random actions\nbenchmarks/{BENCHMARK.name}: {timing}, on this machine",
            folder / "throughput.png",
        )
    )
    print((folder / "throughput.md").read_text())
    ours = next(r for r in rows if r[0].startswith("gymkit single"))
    summary = (
        f"obs {observations.shape[1:]} {observations.dtype}; {steps} random steps, "
        f"{played['points']:.0f} points, {played['games_over']} games over; "
        f"gymkit single env {ours[1]:,.0f} frames/s = {ours[2]:.2f}x the bare emulator "
        f"({timing.split(';')[0]})"
    )
    return {"name": NAME, "summary": summary, "files": files}


if __name__ == "__main__":
    run_from_command_line(main, __doc__)
