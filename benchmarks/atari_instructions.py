"""Instructions per agent step, counted by valgrind's callgrind: the single-env overhead
of gymkit's stack over the minimal loop, free of the timing noise of shared machines.

Each pipeline of `atari_throughput.py` (same work: frame skip 4, max-pool, gray, 84x84
INTER_AREA, stack 4, the same random actions) runs in its own process under callgrind
twice, for a short and a long run; the difference, divided by the extra agent steps,
is the cost of one agent step with the start-up (imports, emulator set-up) taken out.
Instructions are not time (cache misses and the like are not counted), but the
Python overhead a wrapper stack adds is almost all instructions.

    python benchmarks/atari_instructions.py               # Pong, 400 extra steps
    python benchmarks/atari_instructions.py --game Breakout --steps 800

Needs valgrind (Debian: ``apt-get install valgrind``); a run takes a few minutes.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PIPELINES = {
    "bare emulator": "bare",
    "minimal Python loop": "minimal",
    "gymkit single env (gymnasium profile)": "gymkit_single",
    "Gymnasium AtariPreprocessing + FrameStackObservation": "gymnasium_stack",
}
BASE_STEPS = 100

CHILD = """
import sys
sys.path.insert(0, {here!r})
import atari_throughput as at
chunk = getattr(at, {factory!r})({game!r})
steps = {steps}
if {factory!r} == "bare":
    chunk(4 * steps)  # the bare loop counts emulator frames: 4 per agent step
else:
    chunk(steps)
"""


def instructions(factory: str, game: str, steps: int) -> int:
    """Instructions callgrind counts for a whole process running `steps` agent steps."""
    code = CHILD.format(here=str(Path(__file__).parent), factory=factory, game=game, steps=steps)
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    run = subprocess.run(
        [*valgrind, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run of {factory} failed:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--game", default="Pong")
    parser.add_argument("--steps", type=int, default=400, help="extra agent steps of the long run")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("atari_instructions.py needs valgrind (Debian: apt-get install valgrind)")

    jobs = [
        (name, factory, steps)
        for name, factory in PIPELINES.items()
        for steps in (BASE_STEPS, BASE_STEPS + args.steps)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:  # callgrind counts are load-independent
        counts = list(pool.map(lambda job: instructions(job[1], args.game, job[2]), jobs))
    per_step = {
        name: (counts[2 * i + 1] - counts[2 * i]) / args.steps for i, name in enumerate(PIPELINES)
    }
    minimal = per_step["minimal Python loop"]
    print(
        f"\n{args.game}, instructions per agent step (4 frames), callgrind, "
        f"{args.steps} steps beyond a {BASE_STEPS}-step run\n"
    )
    print("| pipeline | instructions per step | × minimal loop | minimal loop ÷ pipeline |")
    print("|---|---|---|---|")
    for name, count in per_step.items():
        print(f"| {name} | {count:,.0f} | {count / minimal:.3f} | {minimal / count:.3f} |")


if __name__ == "__main__":
    main()
