"""Env steps/s collected by RLlib's env runners on gymkit envs, beside Gymnasium's SyncVectorEnv.

Same envs everywhere: the env exactly as `gymkit.integrations.rllib` hands it to RLlib (shaped
CartPole; Breakout under the "sb3" preset, channel-last, scaled to float32). Per env,
in one run and in interleaved rounds (the machine's other load hits all alike):

- RLlib (PPO's default model) with 1 and 2 remote env runners of ``--envs-per-runner``
  envs each, sampling random actions (the env runner's own cost: connectors, episodes,
  shipping them to the driver), then with the policy (plus the model's forward passes);
- Gymnasium's ``SyncVectorEnv`` over as many envs, random actions, in this process.

The ratio compares each RLlib row with SyncVectorEnv over the same number of envs.
A second table gives Ray's start-up: ``ray.init`` and building the algorithm (its
env runner processes).

    python benchmarks/rllib_throughput.py                       # about 3 minutes on 2 cores
    python benchmarks/rllib_throughput.py --envs-per-runner 8   # batched inference
    python benchmarks/rllib_throughput.py --quick               # a smoke run
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import gymnasium as gym
import ray
from ray.rllib.algorithms.ppo import PPOConfig

import gymkit.integrations.rllib

ENVS = {
    "ShapedCartPole-v1": dict(env_id="ShapedCartPole-v1", atari_profile=None, chunk=1000),
    "Breakout (sb3 preset)": dict(env_id="Breakout", atari_profile="sb3", chunk=200),
}


def _rate(collect: Callable[[], int], seconds: float) -> float:
    """Call `collect` (returns env steps done) for about `seconds`; return steps/s."""
    steps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or steps == 0:
        steps += collect()
    return steps / elapsed


def sync_vector(env_id: str, atari_profile: str | None, num_envs: int, chunk: int):
    creator = gymkit.integrations.rllib.EnvCreator(env_id, atari_profile)
    envs = gym.vector.SyncVectorEnv([lambda: creator({})] * num_envs)
    envs.reset(seed=0)
    envs.action_space.seed(0)

    def collect() -> int:
        for _ in range(chunk // num_envs):
            envs.step(envs.action_space.sample())
        return chunk // num_envs * num_envs

    return collect, envs.close


def rllib(env_id: str, atari_profile: str | None, runners: int, envs: int, chunk: int):
    """Build PPO with `runners` remote env runners; return its collectors, stop and build time."""
    config = gymkit.integrations.rllib.configure(PPOConfig(), env_id, atari_profile=atari_profile)
    config.env_runners(num_env_runners=runners, num_envs_per_env_runner=envs).debugging(seed=0)
    start = time.perf_counter()
    algo = config.build_algo()
    build_s = time.perf_counter() - start
    group = algo.env_runner_group
    last = {"random_actions": None}

    def collector(random_actions: bool) -> Callable[[], int]:
        def collect() -> int:
            # An episode begun with random actions lacks the policy's outputs (action
            # log-probs) that RLlib checks for: start new ones when the mode changes.
            reset = last["random_actions"] != random_actions
            last["random_actions"] = random_actions
            # The episodes travel to the driver, as they do when RLlib trains.
            episodes = group.foreach_env_runner(
                lambda runner: runner.sample(
                    num_timesteps=chunk, random_actions=random_actions, force_reset=reset
                ),
                local_env_runner=False,
            )
            return sum(len(e) for per_runner in episodes for e in per_runner)

        collect()  # warm-up: first forward passes, connector set-up
        return collect

    return {"random actions": collector(True), "PPO policy": collector(False)}, algo.stop, build_s


SYNC = "gymnasium SyncVectorEnv, random actions"


def compare(
    spec: dict, runners: int, envs_per_runner: int, chunk: int, rounds: int, seconds: float
):
    """Time SyncVectorEnv and one RLlib algorithm in interleaved rounds; rates and build time."""
    envs = runners * envs_per_runner
    sync, close = sync_vector(spec["env_id"], spec["atari_profile"], envs, chunk)
    by_actions, stop, build_s = rllib(
        spec["env_id"], spec["atari_profile"], runners, envs_per_runner, chunk // runners
    )
    collectors = {SYNC: sync}
    for actions, collect in by_actions.items():
        collectors[f"RLlib {runners} env runner(s), {actions}"] = collect
    rates: dict[str, list[float]] = {label: [] for label in collectors}
    try:
        for _ in range(rounds):
            for label, collect in collectors.items():
                rates[label].append(_rate(collect, seconds))
    finally:
        stop()
        close()
    return rates, build_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--envs-per-runner", type=int, default=1, help="sub-envs per runner")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 0.5, 1

    start = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    startup = [("`ray.init(num_cpus=2)`", time.perf_counter() - start)]
    rows = []
    try:
        for name, spec in ENVS.items():
            chunk = spec["chunk"] // 10 if args.quick else spec["chunk"]
            # One algorithm at a time: 2 CPUs hold 2 env runners, not 1 + 2.
            for runners in (1, 2):
                rates, build_s = compare(
                    spec, runners, args.envs_per_runner, chunk, args.rounds, args.seconds
                )
                startup.append((f"build PPO, {runners} env runner(s), {name}", build_s))
                base = statistics.median(rates[SYNC])
                for label, values in rates.items():
                    median = statistics.median(values)
                    envs = runners * args.envs_per_runner
                    rows.append(
                        (name, label, envs, median, min(values), max(values), median / base)
                    )
    finally:
        ray.shutdown()

    print(
        f"\n## RLlib env runners vs SyncVectorEnv: {args.envs_per_runner} env(s) per runner, "
        f"{args.rounds} rounds x {args.seconds} s\n"
    )
    print("| env | collector | envs | env steps/s, median | min-max | x SyncVectorEnv, same envs |")
    print("|---|---|---:|---:|---:|---:|")
    for name, label, envs, median, lo, hi, ratio in rows:
        print(f"| {name} | {label} | {envs} | {median:,.0f} | {lo:,.0f}-{hi:,.0f} | {ratio:.2f} |")
    print("\n## Ray start-up\n")
    print("| step | seconds |")
    print("|---|---:|")
    for label, seconds in startup:
        print(f"| {label} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
