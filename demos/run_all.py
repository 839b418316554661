"""Replay the book's reinforcement-learning chapter on gymkit: every demo, then a summary.

    python demos/run_all.py                  # a few minutes on 2 CPU cores
    python demos/run_all.py --quick          # CI-sized budgets
    python demos/run_all.py --full           # the book's full budgets (much longer)
    python demos/run_all.py --only toy_mdp atari_pipeline --out /tmp/demos

Each demo writes its plots and videos to ``OUT/<demo>/``; the summary (one line per
demo: what it measured, the files it wrote) is printed at the end and saved as
``OUT/summary.md``. A demo that fails is reported and the others still run; the exit
status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import importlib
import time
import traceback
from pathlib import Path

from demo_io import DEFAULT_OUT, budget_name

# In the chapter's order.
DEMOS = (
    "cartpole_basic_policy",
    "reinforce_cartpole",
    "toy_mdp",
    "dqn_cartpole",
    "atari_pipeline",
)


def run_demo(name: str, quick: bool, full: bool, out: Path) -> dict:
    """Import and run one demo; never raises: a failure becomes the summary line."""
    start = time.perf_counter()
    try:
        result = importlib.import_module(name).main(quick=quick, out=out, full=full)
        result["ok"] = True
    except Exception as error:  # one broken demo must not hide the others' results
        traceback.print_exc()
        result = {
            "name": name,
            "summary": f"FAILED: {type(error).__name__}: {error}",
            "files": [],
            "ok": False,
        }
    result["seconds"] = time.perf_counter() - start
    return result


def format_summary(results: list[dict], budget: str, seconds: float) -> str:
    lines = [f"gymkit demos, {budget} budgets, {seconds:.0f} s", ""]
    for r in results:
        lines.append(f"{r['name']} ({r['seconds']:.0f} s): {r['summary']}")
        lines.extend(f"    {path}" for path in r["files"])
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--quick", action="store_true", help="CI-sized budgets")
    budget.add_argument("--full", action="store_true", help="the book's full budgets")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT}/)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=DEMOS,
        metavar="DEMO",
        help=f"run only these demos, among: {', '.join(DEMOS)}",
    )
    args = parser.parse_args()
    names = [name for name in DEMOS if not args.only or name in args.only]
    budget_label = budget_name(args.quick, args.full)

    start = time.perf_counter()
    results = []
    for i, name in enumerate(names, 1):
        print(f"\n=== [{i}/{len(names)}] {name} ({budget_label} budget) ===", flush=True)
        results.append(run_demo(name, args.quick, args.full, args.out))
    summary = format_summary(results, budget_label, time.perf_counter() - start)

    args.out.mkdir(parents=True, exist_ok=True)
    summary_path = args.out / "summary.md"
    summary_path.write_text(f"```\n{summary}\n```\n")
    print(f"\n{'=' * 30} summary {'=' * 30}\n{summary}\n\n(saved as {summary_path})")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
