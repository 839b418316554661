"""Every demo runs in its quick setting and leaves readable, non-empty pictures and videos.

Each demo runs as a user runs it (``python demos/<demo>.py --quick --out DIR``, in a
subprocess, from another folder), then every PNG/GIF/MP4 it wrote is read back:
PIL for PNG and GIF, OpenCV for MP4.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

DEMOS = Path(__file__).resolve().parents[2] / "demos"

# The files each demo must write under OUT/<demo>/ in its quick setting.
EXPECTED = {
    "cartpole_basic_policy": ["scores.png", "basic-policy-episode-0.gif"],
    "toy_mdp": ["q_learning.png", "exploration.png"],
    "reinforce_cartpole": [
        "learning_curves.png",
        "trained-policy-plain-episode-0.gif",
        "trained-policy-shaped-episode-0.gif",
    ],
    "dqn_cartpole": [
        "learning_curves.png",
        "trained-policy-dqn-episode-0.gif",
        "trained-policy-double-episode-0.gif",
        "trained-policy-dueling-episode-0.gif",
    ],
    "atari_pipeline": [
        "observations.png",
        "frame_stack.png",
        "breakout-agent-view-episode-0.mp4",
        "breakout-agent-view-episode-0.gif",
        "throughput.md",
        "throughput.png",
    ],
}


def run_script(script: str, cwd: Path, *args: str, timeout: float = 300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(DEMOS / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )
    assert result.returncode == 0, (
        f"{script} {' '.join(args)} exited with {result.returncode}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def check_png(path: Path) -> None:
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert image.format == "PNG" and min(pixels.shape[:2]) >= 200, (path, pixels.shape)
    assert pixels.std() > 0, f"{path} is a blank picture"


def check_gif(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "GIF", path
        n_frames = image.n_frames
        image.seek(n_frames - 1)  # decodes every frame up to the last
        last = np.asarray(image.convert("RGB"))
    assert n_frames >= 2, f"{path} has {n_frames} frame"
    assert last.std() > 0, f"the last frame of {path} is blank"


def check_mp4(path: Path) -> None:
    capture = cv2.VideoCapture(str(path))
    try:
        assert capture.isOpened(), f"OpenCV cannot open {path}"
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        capture.release()
    assert len(frames) >= 2, f"{path}: {len(frames)} frames decoded"
    assert frames[0].ndim == 3 and frames[-1].std() > 0, path


CHECKS = {".png": check_png, ".gif": check_gif, ".mp4": check_mp4}


def check_outputs(name: str, out: Path, stdout: str) -> None:
    folder = out / name
    for file_name in EXPECTED[name]:
        path = folder / file_name
        assert path.is_file() and path.stat().st_size > 0, f"{name} did not write {file_name}"
    pictures = [p for p in folder.iterdir() if p.suffix in CHECKS]
    assert pictures, f"{name} wrote no PNG/GIF/MP4"
    for path in pictures:
        CHECKS[path.suffix](path)
    # The demo's summary names every file it wrote, and only files that exist.
    summary = stdout[stdout.rindex(f"\n{name}: ") :].splitlines()[1:]
    listed = {Path(line.strip()) for line in summary if line.startswith("  ")}
    assert listed and all(p.is_file() for p in listed), summary
    assert {p.name for p in listed} >= {n for n in EXPECTED[name] if Path(n).suffix in CHECKS}


@pytest.mark.parametrize(
    "name",
    [
        "toy_mdp",
        pytest.param("reinforce_cartpole", marks=pytest.mark.slow),
        pytest.param("dqn_cartpole", marks=pytest.mark.slow),
        pytest.param("atari_pipeline", marks=pytest.mark.slow),
    ],
)
def test_demo_quick_setting_writes_readable_files(name, tmp_path):
    out = tmp_path / "out"
    result = run_script(f"{name}.py", tmp_path, "--quick", "--out", str(out))
    check_outputs(name, out, result.stdout)


def test_basic_policy_writes_its_files_and_scores_about_the_books_42(tmp_path):
    out = tmp_path / "out"
    result = run_script("cartpole_basic_policy.py", tmp_path, "--quick", "--out", str(out))
    check_outputs("cartpole_basic_policy", out, result.stdout)
    line = next(s for s in result.stdout.splitlines() if s.strip().startswith("mean:"))
    mean = float(line.split()[1])
    assert 35 <= mean <= 50, f"the lean-left-push-left policy scores about 42, got {line}"


def test_run_all_runs_the_chosen_demos_and_summarises_them(tmp_path):
    out = tmp_path / "out"
    result = run_script(
        "run_all.py",
        tmp_path,
        "--quick",
        "--only",
        "cartpole_basic_policy",
        "toy_mdp",
        "--out",
        str(out),
    )
    summary = (out / "summary.md").read_text()
    for name in ("cartpole_basic_policy", "toy_mdp"):
        assert f"\n{name} (" in summary, summary
        for file_name in EXPECTED[name]:
            assert str(out / name / file_name) in summary
    assert "reinforce_cartpole" not in summary
    assert "summary" in result.stdout and "FAILED" not in result.stdout


def test_run_all_reports_a_failing_demo_and_goes_on(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(DEMOS))
    import run_all

    result = run_all.run_demo("no_such_demo", quick=True, full=False, out=tmp_path)
    assert result["ok"] is False and result["summary"].startswith("FAILED: ModuleNotFoundError")
    assert "no_such_demo" in run_all.format_summary([result], "quick", 0.0)


def test_quick_and_full_exclude_each_other(tmp_path):
    result = subprocess.run(
        [sys.executable, str(DEMOS / "toy_mdp.py"), "--quick", "--full"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2 and "not allowed with argument" in result.stderr
