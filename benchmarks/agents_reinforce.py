"""REINFORCE on CartPole-v1: seeds solved and wall-clock, on one CPU core.

Protocol, per seed: train with the book's hyper-parameters (ReinforceConfig
defaults: 5 ELU units, Adam 0.01, gamma 0.95, 10 episodes per update) and the
book's early stopping (the batch's mean score >= 475 for 5 updates in a row), at
most ``--max-iterations`` updates; then play 100 fresh evaluation episodes with the
greedy policy (seeds never used in training). Solved = mean evaluation score
>= 475 (CartPole-v1's reward threshold). Wall-clock covers training only; the
evaluation time is printed beside it.

It also times one policy forward pass on a batch of 10 observations in numpy and
in torch, the measurement behind ReinforceAgent's numpy network.

    python benchmarks/agents_reinforce.py            # 5 seeds, pinned to CPU 0
    python benchmarks/agents_reinforce.py --env ShapedCartPole-v1
"""

from __future__ import annotations

import argparse
import os

# One core: keep BLAS from spawning threads (before numpy loads).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

import gymkit  # noqa: E402, F401
from gymkit.agents import ReinforceAgent, ReinforceConfig, evaluate  # noqa: E402


def run_seed(env_id: str, seed: int, max_iterations: int, **overrides):
    config = ReinforceConfig(seed=seed, **overrides)
    agent = ReinforceAgent(env_id, config)
    start = time.perf_counter()
    agent.learn(max_iterations)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    # Evaluation seeds far from the training seeds; always on the unshaped env.
    scores = evaluate(agent, "CartPole-v1", n_episodes=100, seed=10_000 + seed)
    eval_s = time.perf_counter() - start
    agent.close()
    return {
        "seed": seed,
        "iterations": agent.n_updates,
        "episodes": len(agent.history["score"]),
        "train_s": train_s,
        "eval_s": eval_s,
        "eval_mean": float(scores.mean()),
        "solved": bool(scores.mean() >= 475),
    }


def time_forward_passes(batch: int = 10) -> dict[str, float]:
    """Microseconds per forward pass of the book's 4-5-2 network, numpy vs torch."""
    agent = ReinforceAgent("CartPole-v1", ReinforceConfig(seed=0))
    x = np.random.default_rng(0).normal(size=(batch, 4))
    result = {
        "numpy_us": min(timeit.repeat(lambda: agent.network.forward(x), number=2000, repeat=5))
        / 2000
        * 1e6
    }
    agent.close()
    try:
        import torch
    except ImportError:
        return result
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ELU(), torch.nn.Linear(5, 2))
    xt = torch.as_tensor(x, dtype=torch.float32)

    def torch_forward():
        with torch.no_grad():
            return torch.softmax(net(xt), dim=1).numpy()

    result["torch_us"] = min(timeit.repeat(torch_forward, number=2000, repeat=5)) / 2000 * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1", help="training env id")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-iterations", type=int, default=1000)
    parser.add_argument("--target", type=float, default=475.0, help="early-stopping score")
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--hidden", type=int, nargs="+", default=[5], help="hidden layer sizes")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--episodes", type=int, default=10, help="episodes per update")
    parser.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: no pinning)")
    args = parser.parse_args()
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    forward = time_forward_passes()
    print("policy forward, batch of 10: " + ", ".join(f"{k} {v:.1f}" for k, v in forward.items()))
    print(f"REINFORCE on {args.env}, evaluated on CartPole-v1 (100 greedy episodes)")
    print(
        f"{'seed':>4} {'updates':>7} {'episodes':>8} {'train s':>8} {'eval s':>7} "
        f"{'eval mean':>9}  solved"
    )
    rows = []
    for seed in range(args.seeds):
        row = run_seed(
            args.env,
            seed,
            args.max_iterations,
            target_score=args.target,
            patience=args.patience,
            hidden_sizes=tuple(args.hidden),
            learning_rate=args.lr,
            n_episodes_per_update=args.episodes,
        )
        rows.append(row)
        print(
            f"{row['seed']:>4} {row['iterations']:>7} {row['episodes']:>8} {row['train_s']:>8.1f} "
            f"{row['eval_s']:>7.1f} {row['eval_mean']:>9.1f}  {row['solved']}",
            flush=True,
        )
    times = [r["train_s"] for r in rows]
    solved = sum(r["solved"] for r in rows)
    print(
        f"solved {solved}/{len(rows)} seeds; training wall-clock median "
        f"{statistics.median(times):.1f} s "
        f"(min {min(times):.1f}, max {max(times):.1f}); floor: 5/5 and median <= 30 s"
    )


if __name__ == "__main__":
    main()
