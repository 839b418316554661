"""Atari preprocessing throughput: gymkit beside the bare emulator and the anchors, in one run.

Every pipeline does the same work (frame skip 4, max-pool, gray, 84x84 INTER_AREA,
stack 4, random actions, reset on episode end) and is timed in many short
interleaved rounds, so machine drift hits all alike; the pipelines a target compares
run next to each other in every round. Throughput is emulator frames per second; the
table gives the median and min-max over rounds, and the ratio to the bare emulator
and to the minimal hand-written loop measured in the same round.

    python benchmarks/atari_throughput.py                # Breakout, 9 rounds of 0.6 s
    python benchmarks/atari_throughput.py --game Pong --rounds 15 --seconds 1
    python benchmarks/atari_throughput.py --quick        # a smoke run (CI)

The minimal loop resizes with ``cv2.resize``, as the targets define it; gymkit's
stack resizes with its `AreaResizer` (the same bits, faster), which is what lets a
composable stack outrun that loop.

Two more tables time the generic (non-ALE) path, the per-step cost of gray + resize +
stack on a synthetic 210x160x3 env (gymkit against Gymnasium's wrappers), and the
downsample alone (`AreaResizer` against ``cv2.resize``) on Breakout screens.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import ale_py
import cv2
import gymnasium as gym
import numpy as np

import gymkit.wrappers as gw

gym.register_envs(ale_py)
FRAME_SKIP = 4


def _actions(n_actions: int, seed: int = 0, size: int = 4096) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_actions, size)


def _timed(step_chunk: Callable[[], int], seconds: float) -> float:
    """Run `step_chunk` (returns emulator frames done) for about `seconds`; return frames/s."""
    frames = 0
    start = time.perf_counter()
    while True:
        frames += step_chunk()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return frames / elapsed


# --- pipelines: each factory returns a chunk function -------------------------------------------


def _emulator(game: str) -> tuple:
    """The game's ALE interface, reset, and random ALE actions for it."""
    env = gym.make(f"ALE/{game}-v5", frameskip=1)
    env.reset(seed=0)
    action_set = env.unwrapped._action_set
    return env.unwrapped.ale, [action_set[i] for i in _actions(env.action_space.n)]


def bare(game: str) -> Callable[[], int]:
    ale, actions = _emulator(game)

    def chunk(n=200):
        act, over = ale.act, ale.game_over
        for i in range(n):
            act(actions[i % 4096])
            if over():
                ale.reset_game()
        return n

    return chunk


def minimal(game: str) -> Callable[[], int]:
    ale, actions = _emulator(game)
    h, w = ale.getScreenDims()
    a_buf, b_buf = np.empty((h, w), np.uint8), np.empty((h, w), np.uint8)
    ring = np.zeros((4, 84, 84), np.uint8)
    state = {"i": 0}

    def chunk(n=50):
        act, over, gray = ale.act, ale.game_over, ale.getScreenGrayscale
        for _ in range(n):
            i = state["i"] = state["i"] + 1
            a = actions[i % 4096]
            act(a)
            act(a)
            act(a)
            gray(a_buf)
            act(a)
            gray(b_buf)
            np.maximum(a_buf, b_buf, out=a_buf)
            cv2.resize(a_buf, (84, 84), dst=ring[i % 4], interpolation=cv2.INTER_AREA)
            if over():
                ale.reset_game()
        return n * FRAME_SKIP

    return chunk


def _single_env_chunk(env: gym.Env, frames_per_step: int = FRAME_SKIP) -> Callable[[], int]:
    env.reset(seed=0)
    actions = _actions(env.action_space.n).tolist()
    state = {"i": 0}

    def chunk(n=50):
        step, i = env.step, state["i"]
        for _ in range(n):
            i += 1
            _, _, terminated, truncated, _ = step(actions[i % 4096])
            if terminated or truncated:
                env.reset()
        state["i"] = i
        return n * frames_per_step

    return chunk


def gymkit_single(game: str) -> Callable[[], int]:
    return _single_env_chunk(gw.make_atari(game, "gymnasium"))


def gymnasium_stack(game: str) -> Callable[[], int]:
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    env = AtariPreprocessing(gym.make(f"ALE/{game}-v5", frameskip=1), noop_max=30, frame_skip=4)
    return _single_env_chunk(FrameStackObservation(env, 4))


def sb3_stack(game: str) -> Callable[[], int]:
    from stable_baselines3.common.atari_wrappers import AtariWrapper
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack

    venv = VecFrameStack(DummyVecEnv([lambda: AtariWrapper(gym.make(f"{game}NoFrameskip-v4"))]), 4)
    venv.seed(0)
    venv.reset()
    actions = _actions(venv.action_space.n)
    state = {"i": 0}

    def chunk(n=50):
        i = state["i"]
        for _ in range(n):
            i += 1
            venv.step(actions[i % 4096 : i % 4096 + 1])  # DummyVecEnv resets by itself
        state["i"] = i
        return n * FRAME_SKIP

    return chunk


def _vector_chunk(venv: gym.vector.VectorEnv) -> Callable[[], int]:
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    n_actions = int(venv.single_action_space.n)
    batches = rng.integers(0, n_actions, (256, venv.num_envs))
    state = {"i": 0}

    def chunk(n=20):
        i = state["i"]
        for _ in range(n):
            i += 1
            venv.step(batches[i % 256])  # vector envs reset sub-envs by themselves
        state["i"] = i
        return n * FRAME_SKIP * venv.num_envs

    return chunk


def ale_vector(num_envs: int, num_threads: int) -> Callable[[str], Callable[[], int]]:
    def factory(game: str) -> Callable[[], int]:
        from ale_py.vector_env import AtariVectorEnv

        venv = AtariVectorEnv(
            game.lower(),
            num_envs,
            num_threads=num_threads,
            repeat_action_probability=0.25,
            reward_clipping=False,
            use_fire_reset=False,
        )
        return _vector_chunk(venv)

    return factory


def gymnasium_async(num_envs: int) -> Callable[[str], Callable[[], int]]:
    def factory(game: str) -> Callable[[], int]:
        fns = [lambda: gw.make_atari(game, "gymnasium") for _ in range(num_envs)]
        return _vector_chunk(gym.vector.AsyncVectorEnv(fns, shared_memory=True))

    return factory


def gymkit_vector(num_envs: int, num_workers: int) -> Callable[[str], Callable[[], int]]:
    def factory(game: str) -> Callable[[], int]:
        return _vector_chunk(gw.make_atari_vector(game, num_envs, num_workers=num_workers))

    return factory


def envpool_vector(num_envs: int, num_threads: int) -> Callable[[str], Callable[[], int]] | None:
    try:
        import envpool
    except ImportError:
        return None

    def factory(game: str) -> Callable[[], int]:
        venv = envpool.make_gymnasium(
            f"{game}-v5", num_envs=num_envs, num_threads=num_threads, repeat_action_probability=0.25
        )
        return _vector_chunk(venv)

    return factory


# --- the generic (non-ALE) path ------------------------------------------------------------------


class SyntheticRGBEnv(gym.Env):
    """A 210x160x3 uint8 env whose frames cost nothing to make (a fixed random image)."""

    observation_space = gym.spaces.Box(0, 255, (210, 160, 3), np.uint8)
    action_space = gym.spaces.Discrete(4)

    def __init__(self):
        self.frame = np.random.default_rng(0).integers(0, 256, (210, 160, 3), dtype=np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.frame, {}

    def step(self, action):
        return self.frame, 0.0, False, False, {}


def generic_overhead(seconds: float, rounds: int) -> list[tuple[str, float, float]]:
    """µs per step of gray + resize(84, AREA) + stack(4) on the synthetic env, over the env's."""
    from gymnasium.wrappers import FrameStackObservation, GrayscaleObservation, ResizeObservation

    def ours():
        env = gw.ResizeObservation(gw.GrayscaleObservation(SyntheticRGBEnv()), 84)
        return gw.FrameStackObservation(env, 4)

    def theirs():
        env = ResizeObservation(GrayscaleObservation(SyntheticRGBEnv()), (84, 84))
        return FrameStackObservation(env, 4)

    builds = {
        "bare synthetic env": SyntheticRGBEnv,
        "gymkit wrappers": ours,
        "Gymnasium wrappers": theirs,
    }
    samples: dict[str, list[float]] = {name: [] for name in builds}
    for _ in range(rounds):
        for name, build in builds.items():
            fps = _timed(_single_env_chunk(build(), frames_per_step=1), seconds)
            samples[name].append(1e6 / fps)
    base = statistics.median(samples["bare synthetic env"])
    return [
        (name, statistics.median(v), statistics.median(v) - base) for name, v in samples.items()
    ]


def downsample_cost(seconds: float, rounds: int) -> list[tuple[str, float, float]]:
    """µs per frame of the 210x160 -> 84x84 INTER_AREA shrink, with the ratio to OpenCV's."""
    from gymkit.wrappers.area_resize import AreaResizer

    ale, actions = _emulator("Breakout")
    frames = []
    for i in range(64):  # real screens, 8 frames apart
        for j in range(8):
            ale.act(actions[8 * i + j])
        frames.append(ale.getScreenGrayscale())
    out = np.empty((84, 84), np.uint8)
    resizer = AreaResizer((210, 160), (84, 84))
    ways = {
        "cv2.resize INTER_AREA": lambda f: cv2.resize(
            f, (84, 84), dst=out, interpolation=cv2.INTER_AREA
        ),
        f"gymkit AreaResizer ({resizer.backend})": lambda f: resizer(f, out),
    }
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                for f in frames:
                    way(f)
                n += len(frames)
            samples[name].append((time.perf_counter() - start) / n * 1e6)
    anchor = samples["cv2.resize INTER_AREA"]
    speedups = {
        name: [a / b for a, b in zip(anchor, v, strict=True)] for name, v in samples.items()
    }
    return [
        (name, statistics.median(v), statistics.median(speedups[name]))
        for name, v in samples.items()
    ]


# --- driver ------------------------------------------------------------------------------------


def pipelines() -> dict[str, Callable[[str], Callable[[], int]]]:
    table: dict[str, Callable[[str], Callable[[], int]] | None] = {
        "bare emulator": bare,
        "minimal Python loop": minimal,
        "gymkit single env (gymnasium profile)": gymkit_single,
        "gymkit vector, 8 envs on 2 cores": gymkit_vector(8, 2),
        "ale-py AtariVectorEnv, 8 envs, 2 threads": ale_vector(8, 2),
        "gymkit vector, 16 envs on 2 cores": gymkit_vector(16, 2),
        "Gymnasium AtariPreprocessing + FrameStackObservation": gymnasium_stack,
        "SB3 AtariWrapper + VecFrameStack": sb3_stack,
        "ale-py AtariVectorEnv, 1 env": ale_vector(1, 1),
        "envpool, 8 envs, 2 threads": envpool_vector(8, 2),
        "Gymnasium AsyncVectorEnv (gymkit stack), 2 processes": gymnasium_async(2),
    }
    return {k: v for k, v in table.items() if v is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--game", default="Breakout")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument(
        "--seconds", type=float, default=0.6, help="timed seconds per pipeline per round"
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 0.3 s: a smoke run")
    parser.add_argument(
        "--only", nargs="*", help="run only pipelines whose name contains one of these"
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 0.3

    table = pipelines()
    if args.only:
        keep = ("bare emulator", "minimal Python loop")
        table = {k: v for k, v in table.items() if k in keep or any(s in k for s in args.only)}
    chunks = {name: factory(args.game) for name, factory in table.items()}
    for chunk in chunks.values():  # warm-up: imports, first resets, worker start-up
        chunk()
    samples: dict[str, list[float]] = {name: [] for name in chunks}
    ratios_bare: dict[str, list[float]] = {name: [] for name in chunks}
    ratios_min: dict[str, list[float]] = {name: [] for name in chunks}
    for r in range(args.rounds):
        for name, chunk in chunks.items():
            samples[name].append(_timed(chunk, args.seconds))
        for name in chunks:
            ratios_bare[name].append(samples[name][-1] / samples["bare emulator"][-1])
            ratios_min[name].append(samples[name][-1] / samples["minimal Python loop"][-1])
        print(f"round {r + 1}/{args.rounds} done", flush=True)

    print(
        f"\n{args.game}, frame skip 4, max-pool, gray, 84x84 INTER_AREA, stack 4; "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s; median (min-max)\n"
    )
    print("| pipeline | frames/s | × bare | × minimal loop |")
    print("|---|---|---|---|")
    for name in chunks:
        fps = samples[name]
        rb, rm = ratios_bare[name], ratios_min[name]
        print(
            f"| {name} | {statistics.median(fps):,.0f} ({min(fps):,.0f}–{max(fps):,.0f}) "
            f"| {statistics.median(rb):.2f} ({min(rb):.2f}–{max(rb):.2f}) "
            f"| {statistics.median(rm):.2f} ({min(rm):.2f}–{max(rm):.2f}) |"
        )

    anchor = "ale-py AtariVectorEnv, 8 envs, 2 threads"
    ours = [name for name in chunks if name.startswith("gymkit vector")]
    if anchor in samples and ours:
        print(f"\nVector envs against {anchor}, per round: median (min-max)\n")
        print("| pipeline | × ale-py vector |")
        print("|---|---|")
        for name in ours:
            r = [a / b for a, b in zip(samples[name], samples[anchor], strict=True)]
            print(f"| {name} | {statistics.median(r):.2f} ({min(r):.2f}–{max(r):.2f}) |")

    print(
        "\nGeneric path (synthetic 210x160x3 env): gray + resize 84 AREA + stack 4, µs per step\n"
    )
    print("| stack | µs per step | µs over the bare env |")
    print("|---|---|---|")
    for name, us, over in generic_overhead(args.seconds / 2, args.rounds):
        print(f"| {name} | {us:.1f} | {over:.1f} |")

    print("\nDownsample alone: 210x160 gray -> 84x84 INTER_AREA, µs per frame (median)\n")
    print("| downsample | µs per frame | speed-up over OpenCV (per round) |")
    print("|---|---|---|")
    for name, us, speedup in downsample_cost(args.seconds / 4, args.rounds):
        print(f"| {name} | {us:.1f} | {speedup:.2f}× |")


if __name__ == "__main__":
    main()
