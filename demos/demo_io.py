"""What every demo shares: its command line, its budget names, and how it writes pictures.

Each demo defines ``main(quick: bool, out: Path, full: bool = False) -> dict`` and ends with
``run_from_command_line(main, __doc__)``, so every demo takes the same flags as
``run_all.py``: ``--quick`` (CI-sized budgets), ``--full`` (the book's budgets) and
``--out DIR`` (default ``outputs/``). A demo writes into ``DIR/<its name>/`` and returns
``{"name", "summary", "files"}``: one line saying what it measured, and the files it wrote.

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas: no
pyplot, no global figure state, no window, the same on a laptop and a CI machine.
Videos are recorded with gymkit's ``RecordVideo``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gymkit.wrappers import RecordVideo

DEFAULT_OUT = Path("outputs")


def budget_name(quick: bool, full: bool) -> str:
    """``"quick"``, ``"default"`` or ``"full"``: the key of each demo's budget tables."""
    if quick and full:
        raise ValueError("a demo runs with --quick or --full, not both")
    return "quick" if quick else "full" if full else "default"


def new_figure(**kwargs) -> Figure:
    """A matplotlib figure drawn by the Agg canvas (no pyplot, no display)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG to ``path`` and say so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return announce(path)


def announce(path: Path) -> Path:
    """Print where a file was written (and how big it is); return the path."""
    print(f"  wrote {path} ({path.stat().st_size / 1024:,.0f} kB)", flush=True)
    return path


def announce_videos(env: RecordVideo, folder: Path) -> list[Path]:
    """Announce the files a closed ``RecordVideo`` wrote into ``folder``."""
    return [announce(folder / Path(p).name) for p in env.video_paths]


def record_episode(
    policy: Callable[[Any], Any], env_id: str, folder: Path, name_prefix: str, seed: int
) -> list[Path]:
    """Play one episode of ``env_id`` with ``policy(obs) -> action`` and save it as a GIF."""
    env = RecordVideo(
        gym.make(env_id, render_mode="rgb_array"),
        folder,
        episode_trigger=1,
        max_videos=1,
        formats=("gif",),
        name_prefix=name_prefix,
    )
    obs, _ = env.reset(seed=seed)
    done = False
    while not done:
        obs, _, terminated, truncated, _ = env.step(policy(obs))
        done = terminated or truncated
    env.close()
    return announce_videos(env, folder)


def run_from_command_line(main: Callable[..., dict], description: str | None) -> dict:
    """Parse ``--quick``/``--full``/``--out``, run ``main`` and print its summary."""
    parser = argparse.ArgumentParser(description=(description or "").split("\n\n")[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="CI-sized budgets (seconds)")
    budget.add_argument("--full", action="store_true", help="the book's full budgets")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT}/)"
    )
    args = parser.parse_args()
    result = main(quick=args.quick, out=args.out, full=args.full)
    print(f"\n{result['name']}: {result['summary']}")
    for path in result["files"]:
        print(f"  {path}")
    return result
