"""DQN on CartPole-v1: gymkit's preset against RL Baselines3 Zoo's settings.

Protocol, per seed, each seed in its own process with one torch thread:
train (``DQNConfig.cartpole()``: double DQN, 64-64 MLP, a greedy evaluation of 20
episodes every 2,500 steps, stopping once one scores the maximum mean of 500; at
most ``--max-steps``), then play 100 fresh greedy evaluation episodes (seeds never
used in training). Solved = mean evaluation score >= 475. Wall-clock covers training,
its periodic evaluations included.

``--zoo`` also runs the anchor: plain stable-baselines3 ``DQN`` with RL Baselines3
Zoo's CartPole-v1 hyper-parameters (5e4 steps, no early stopping; the final model
evaluated the same way), which took 160-173 s on one thread here and solved 2 of 3
seeds. ``--zoo-settings`` runs those hyper-parameters on gymkit's agent instead
(``DQNConfig.rl_zoo_cartpole()``), separating the preset's gain from the agent's.

    python benchmarks/agents_dqn.py                 # 5 seeds, 2 at a time
    python benchmarks/agents_dqn.py --zoo --seeds 3
    python benchmarks/agents_dqn.py --variant dueling
"""

from __future__ import annotations

import argparse
import ast
import multiprocessing as mp
import os
import statistics
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

VARIANTS = {
    "preset": {},
    "plain": {"double_q": False},
    "dueling": {"dueling": True},
    "book-dueling": {"dueling": True, "dueling_aggregation": "max"},
}


def run_seed(job: tuple[str, str, int, int, dict]) -> dict:
    setup, variant, seed, max_steps, overrides = job
    import torch

    torch.set_num_threads(1)
    import gymnasium as gym

    import gymkit  # noqa: F401
    from gymkit.agents import DQNAgent, DQNConfig, evaluate

    if setup == "zoo":
        return _run_sb3_zoo(seed)
    if setup == "zoo-settings":
        config, steps = DQNConfig.rl_zoo_cartpole(seed=seed), 50_000
    else:
        settings = {**VARIANTS[variant], **overrides}
        config, steps = DQNConfig.cartpole(seed=seed, **settings), max_steps
    agent = DQNAgent(gym.make("CartPole-v1"), config)
    start = time.perf_counter()
    agent.learn(steps)
    train_s = time.perf_counter() - start
    scores = evaluate(agent, "CartPole-v1", n_episodes=100, seed=10_000 + seed)
    return {
        "setup": setup if setup == "zoo-settings" else f"gymkit/{variant}",
        "seed": seed,
        "steps": int(agent.model.num_timesteps),
        "train_s": train_s,
        "eval_mean": float(scores.mean()),
        "solved": bool(scores.mean() >= 475),
    }


class _GreedySB3:
    """Gives an SB3 model the ``predict(batch) -> actions`` that `evaluate` calls."""

    def __init__(self, model):
        self.model = model

    def predict(self, obs):
        return self.model.predict(obs, deterministic=True)[0]


def _run_sb3_zoo(seed: int) -> dict:
    import gymnasium as gym
    from stable_baselines3 import DQN

    from gymkit.agents import evaluate

    # rl-baselines3-zoo hyperparams/dqn.yml, CartPole-v1.
    model = DQN(
        "MlpPolicy",
        gym.make("CartPole-v1"),
        learning_rate=2.3e-3,
        batch_size=64,
        buffer_size=100_000,
        learning_starts=1_000,
        gamma=0.99,
        target_update_interval=10,
        train_freq=256,
        gradient_steps=128,
        exploration_fraction=0.16,
        exploration_final_eps=0.04,
        policy_kwargs=dict(net_arch=[256, 256]),
        seed=seed,
        device="cpu",
    )
    start = time.perf_counter()
    model.learn(50_000)
    train_s = time.perf_counter() - start
    scores = evaluate(_GreedySB3(model), "CartPole-v1", n_episodes=100, seed=10_000 + seed)
    return {
        "setup": "sb3-zoo",
        "seed": seed,
        "steps": int(model.num_timesteps),
        "train_s": train_s,
        "eval_mean": float(scores.mean()),
        "solved": bool(scores.mean() >= 475),
    }


def report(rows: list[dict]) -> dict:
    times = [r["train_s"] for r in rows]
    solved = sum(r["solved"] for r in rows)
    print(
        f"  {rows[0]['setup']}: solved {solved}/{len(rows)}; wall-clock median "
        f"{statistics.median(times):.1f} s (min {min(times):.1f}, max {max(times):.1f}); "
        f"median steps {statistics.median(r['steps'] for r in rows):.0f}"
    )
    return {"median_s": statistics.median(times), "solved": solved, "n": len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=100_000)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="preset")
    parser.add_argument("--zoo", action="store_true", help="also run the SB3 zoo anchor")
    parser.add_argument(
        "--zoo-settings", action="store_true", help="also run the zoo's settings on gymkit"
    )
    parser.add_argument("--workers", type=int, default=2, help="seeds run at once")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="FIELD=VALUE", help="override preset fields"
    )
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        field, _, value = item.partition("=")
        overrides[field] = float(value) if value in ("inf", "-inf") else ast.literal_eval(value)

    jobs = [("gymkit", args.variant, s, args.max_steps, overrides) for s in range(args.seeds)]
    if args.zoo:
        jobs += [("zoo", "zoo", s, 50_000, {}) for s in range(args.seeds)]
    if args.zoo_settings:
        jobs += [("zoo-settings", "zoo", s, 50_000, {}) for s in range(args.seeds)]
    print(f"{'setup':>16} {'seed':>4} {'steps':>7} {'train s':>8} {'eval mean':>9}  solved")
    rows = []
    with mp.get_context("spawn").Pool(args.workers) as pool:
        for row in pool.imap(run_seed, jobs):
            rows.append(row)
            print(
                f"{row['setup']:>16} {row['seed']:>4} {row['steps']:>7} {row['train_s']:>8.1f} "
                f"{row['eval_mean']:>9.1f}  {row['solved']}",
                flush=True,
            )
    print("summary (floor: gymkit solves >= 4 of 5 seeds):")
    ours = report([r for r in rows if r["setup"].startswith("gymkit/")])
    if any(r["setup"] == "zoo-settings" for r in rows):
        report([r for r in rows if r["setup"] == "zoo-settings"])
    zoo_rows = [r for r in rows if r["setup"] == "sb3-zoo"]
    if zoo_rows:
        zoo = report(zoo_rows)
        print(
            "  wall-clock ratio gymkit / zoo (medians, this run): "
            f"{ours['median_s'] / zoo['median_s']:.2f}"
        )
    print(
        f"  wall-clock ratio gymkit / zoo anchor (160-173 s): "
        f"{ours['median_s'] / 173:.2f}-{ours['median_s'] / 160:.2f}"
    )


if __name__ == "__main__":
    main()
