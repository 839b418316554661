"""DQN on Atari over gymkit's preprocessing, in CleanRL's single-file style.

Everything is in this file and reads top to bottom: settings (a dataclass, every
field a ``--flag``), the vector env (Gymnasium's ``SyncVectorEnv`` with same-step
autoreset, its ``RecordEpisodeStatistics``, gymkit's ``make_atari`` stack, channel
first for PyTorch), the Nature Q-network, and the training loop (Mnih et al., 2015).

    python demos/cleanrl_dqn_atari.py --total-timesteps 100000 --learning-starts 10000

Episode returns are the game's score: gymkit's "gymnasium" profile leaves rewards
alone, and the loop clips them to their sign only for the TD target, as DQN does.
``--summary-path run.json`` writes what happened (steps, episodes, losses) as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from stable_baselines3.common.buffers import ReplayBuffer

from gymkit.wrappers import make_atari


@dataclass
class Args:
    env_id: str = "Breakout"
    """the game, as gymkit.wrappers.make_atari takes it ("Breakout" or "ALE/Breakout-v5")"""
    profile: str = "gymnasium"
    """gymkit's preprocessing profile; it must stack frames channel first, (4, 84, 84)"""
    max_episode_frames: int = 108_000
    """ALE truncates an episode after this many emulator frames (30 minutes of play)"""
    seed: int = 1
    """seed of the envs, the exploration and the network"""
    cuda: bool = True
    """use CUDA when it is available"""
    num_envs: int = 1
    """number of parallel envs (one step of the loop is num_envs env steps)"""
    total_timesteps: int = 10_000_000
    """env steps in all, over every env"""
    learning_rate: float = 1e-4
    """Adam's learning rate"""
    buffer_size: int = 100_000
    """transitions the replay buffer holds (each takes 2 x 28 KB: 5.6 GB for 100k)"""
    gamma: float = 0.99
    """discount factor"""
    tau: float = 1.0
    """target network update rate (1.0: copy)"""
    target_network_frequency: int = 1000
    """env steps between target network updates"""
    batch_size: int = 32
    """transitions per gradient step"""
    start_e: float = 1.0
    """initial exploration epsilon"""
    end_e: float = 0.01
    """final exploration epsilon"""
    exploration_fraction: float = 0.10
    """fraction of total_timesteps over which epsilon decays"""
    learning_starts: int = 80_000
    """env steps before learning starts"""
    train_frequency: int = 4
    """env steps between gradient steps"""
    summary_path: str = ""
    """write a JSON summary of the run here ("" for none)"""


def parse_args() -> Args:
    """Every field of `Args` becomes a flag: `total_timesteps` -> `--total-timesteps`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for field in dataclasses.fields(Args):
        flag = "--" + field.name.replace("_", "-")
        if isinstance(field.default, bool):
            parser.add_argument(
                flag,
                type=lambda s: s.lower() in ("1", "true", "yes"),
                default=field.default,
                metavar="BOOL",
            )
        else:
            parser.add_argument(flag, type=type(field.default), default=field.default)
    return Args(**vars(parser.parse_args()))


def make_env(args: Args):
    def thunk():
        return make_atari(
            args.env_id,
            args.profile,
            env_kwargs={"max_num_frames_per_episode": args.max_episode_frames},
        )

    return thunk


class QNetwork(nn.Module):
    """The Nature DQN network over a (4, 84, 84) uint8 frame stack."""

    def __init__(self, n_actions: int):
        super().__init__()
        self.network = nn.Sequential(
            nn.Conv2d(4, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(3136, 512),
            nn.ReLU(),
            nn.Linear(512, n_actions),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x / 255.0)


def linear_schedule(start_e: float, end_e: float, duration: float, t: int) -> float:
    slope = (end_e - start_e) / duration
    return max(slope * t + start_e, end_e)


def main() -> dict:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")

    # env setup: same-step autoreset, so info["final_obs"] holds each episode's last frame
    envs = gym.vector.SyncVectorEnv(
        [make_env(args) for _ in range(args.num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    assert isinstance(envs.single_action_space, gym.spaces.Discrete), "discrete actions only"
    assert envs.single_observation_space.shape == (4, 84, 84), (
        f"the Q-network takes (4, 84, 84) stacks, the profile gives "
        f"{envs.single_observation_space.shape}"
    )
    n_actions = int(envs.single_action_space.n)
    envs.single_action_space.seed(args.seed)

    q_network = QNetwork(n_actions).to(device)
    optimizer = optim.Adam(q_network.parameters(), lr=args.learning_rate)
    target_network = QNetwork(n_actions).to(device)
    target_network.load_state_dict(q_network.state_dict())

    rb = ReplayBuffer(
        args.buffer_size,
        envs.single_observation_space,
        envs.single_action_space,
        device,
        n_envs=args.num_envs,
        # a stored next observation must survive the autoreset (SB3's memory-saving mode
        # would overwrite each episode's last frame with the next episode's first)
        optimize_memory_usage=False,
        handle_timeout_termination=False,
    )
    summary = {"episodes": [], "td_losses": [], "q_values": [], "global_step": 0}
    start_time = time.time()

    obs, _ = envs.reset(seed=args.seed)
    global_step = 0
    while global_step < args.total_timesteps:
        epsilon = linear_schedule(
            args.start_e, args.end_e, args.exploration_fraction * args.total_timesteps, global_step
        )
        if rng.random() < epsilon:
            actions = np.array([envs.single_action_space.sample() for _ in range(envs.num_envs)])
        else:
            with torch.no_grad():
                q_values = q_network(torch.as_tensor(obs, device=device))
            actions = torch.argmax(q_values, dim=1).cpu().numpy()

        next_obs, rewards, terminations, truncations, infos = envs.step(actions)
        global_step += envs.num_envs

        if "episode" in infos:
            for idx in np.flatnonzero(infos["_episode"]):
                ret, length = float(infos["episode"]["r"][idx]), int(infos["episode"]["l"][idx])
                print(f"global_step={global_step}, episodic_return={ret}, length={length}")
                summary["episodes"].append({"step": global_step, "return": ret, "length": length})

        # after an episode end next_obs is already the new episode's first stack: store
        # the transition with the true last observation instead
        real_next_obs = next_obs.copy()
        for idx in np.flatnonzero(terminations | truncations):
            real_next_obs[idx] = infos["final_obs"][idx]
        rb.add(
            obs,
            real_next_obs,
            actions,
            np.sign(rewards),
            terminations,
            [{} for _ in range(envs.num_envs)],
        )
        obs = next_obs

        if (
            global_step > args.learning_starts
            and global_step % args.train_frequency < envs.num_envs
        ):
            data = rb.sample(args.batch_size)
            with torch.no_grad():
                target_max, _ = target_network(data.next_observations).max(dim=1)
                td_target = data.rewards.flatten() + args.gamma * target_max * (
                    1 - data.dones.flatten()
                )
            old_val = q_network(data.observations).gather(1, data.actions).squeeze(1)
            loss = F.mse_loss(td_target, old_val)
            summary["td_losses"].append(loss.item())
            summary["q_values"].append(old_val.mean().item())
            if len(summary["td_losses"]) % 100 == 1:
                sps = int(global_step / (time.time() - start_time))
                print(f"global_step={global_step}, td_loss={loss.item():.4f}, SPS={sps}")

            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        if global_step % args.target_network_frequency < envs.num_envs:
            for target_param, param in zip(
                target_network.parameters(), q_network.parameters(), strict=True
            ):
                target_param.data.copy_(
                    args.tau * param.data + (1.0 - args.tau) * target_param.data
                )

    envs.close()
    summary.update(
        global_step=global_step, seconds=time.time() - start_time, args=dataclasses.asdict(args)
    )
    print(
        f"done: {global_step} steps, {len(summary['episodes'])} episodes, "
        f"{len(summary['td_losses'])} gradient steps"
    )
    if args.summary_path:
        with open(args.summary_path, "w") as f:
            json.dump(summary, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
