"""The CleanRL-style DQN script in demos/ runs end to end on a tiny budget."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "demos" / "cleanrl_dqn_atari.py"

pytest.importorskip("torch", reason="the CleanRL-style script trains a PyTorch Q-network")
pytest.importorskip("stable_baselines3", reason="the CleanRL-style script uses SB3's ReplayBuffer")


def load_script(monkeypatch):
    spec = importlib.util.spec_from_file_location("cleanrl_dqn_atari", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_a_cli_flag(monkeypatch):
    script = load_script(monkeypatch)
    monkeypatch.setattr(
        sys,
        "argv",
        ["x", "--total-timesteps", "123", "--cuda", "false", "--learning-rate", "0.5"],
    )
    args = script.parse_args()
    assert (args.total_timesteps, args.cuda, args.learning_rate) == (123, False, 0.5), (
        f"CleanRL script CLI: flags parsed as {args}"
    )
    assert args.profile == "gymnasium" and args.env_id == "Breakout"


def test_script_runs_a_few_hundred_dqn_steps_in_a_subprocess(tmp_path):
    summary_path = tmp_path / "summary.json"
    total, learning_starts, num_envs = 300, 150, 2
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # a small net: threads only contend here
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--total-timesteps",
            str(total),
            "--learning-starts",
            str(learning_starts),
            "--num-envs",
            str(num_envs),
            "--max-episode-frames",
            "400",  # ALE truncates after 100 agent steps
            "--buffer-size",
            "500",
            "--batch-size",
            "8",
            "--target-network-frequency",
            "100",
            "--cuda",
            "false",
            "--summary-path",
            str(summary_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, (
        f"CleanRL-style script (demos/cleanrl_dqn_atari.py) failed:\n{result.stderr[-3000:]}"
    )
    summary = json.loads(summary_path.read_text())
    name = "CleanRL-style script"
    assert summary["global_step"] == total, f"{name}: ran {summary['global_step']} steps"
    updates = len(summary["td_losses"])
    expected_updates = (total - learning_starts) // 4
    assert abs(updates - expected_updates) <= 1, (
        f"{name}: {updates} gradient steps, expected about {expected_updates}"
    )
    assert all(math.isfinite(x) for x in summary["td_losses"] + summary["q_values"]), (
        f"{name}: non-finite TD loss or Q-values"
    )
    episodes = summary["episodes"]
    assert len(episodes) >= num_envs, (
        f"{name}: Gymnasium's RecordEpisodeStatistics reported {len(episodes)} episode(s)"
    )
    assert all(1 <= e["length"] <= 100 for e in episodes), (
        f"{name}: episode lengths {[e['length'] for e in episodes]} (ALE truncates at 100)"
    )
    printed = result.stdout.count("episodic_return=")
    assert printed == len(episodes), f"{name}: printed {printed} returns for {len(episodes)}"
