"""Memory of gymkit's Atari stack: what it holds, and RSS over a long run.

    python benchmarks/atari_memory.py                 # 1e6 emulator frames, Breakout
    python benchmarks/atari_memory.py --frames 200000

Prints the bytes each buffer holds (one stack per env plus the two pooling
buffers), then the process RSS every 10% of the run: flat means no leak.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import gymkit.wrappers as gw


def rss_mib() -> float:
    """Resident set size of this process now, in MiB (from /proc, Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--game", default="Breakout")
    parser.add_argument("--frames", type=int, default=1_000_000)
    args = parser.parse_args()

    env = gw.make_atari(args.game, "gymnasium")
    layer, held = env, {}
    while hasattr(layer, "env"):
        if isinstance(layer, gw.FrameStackObservation):
            held["frame stack (one per env)"] = layer._stack.nbytes
        if isinstance(layer, gw.RepeatAction):
            held["pooling buffers (two frames)"] = layer._frames.nbytes
            print(f"RepeatAction path: {layer.path}")
        layer = layer.env
    for name, nbytes in held.items():
        print(f"{name}: {nbytes:,} bytes")

    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, env.action_space.n, 4096).tolist()
    steps = args.frames // 4
    report_every = max(1, steps // 10)
    start, base = time.perf_counter(), rss_mib()
    print("\n| emulator frames | RSS (MiB) | change (MiB) |\n|---|---|---|")
    print(f"| 0 | {base:.1f} | 0.0 |")
    for i in range(1, steps + 1):
        _, _, terminated, truncated, _ = env.step(actions[i % 4096])
        if terminated or truncated:
            env.reset()
        if i % report_every == 0:
            now = rss_mib()
            print(f"| {i * 4:,} | {now:.1f} | {now - base:+.1f} |", flush=True)
    print(f"\n{args.frames:,} frames in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
