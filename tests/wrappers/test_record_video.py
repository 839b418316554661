"""Tests for gymkit.wrappers.rendering.RecordVideo and observation_to_image.

Every video is read back: MP4 through OpenCV (and the bundled ffmpeg's `-i` report for
the codec), GIF through Pillow, and compared with the frames the env rendered.
"""

import doctest
import gc
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
import warnings
from functools import partial
from pathlib import Path

import cv2
import gymnasium as gym
import imageio_ffmpeg
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.error import DependencyNotInstalled
from gymnasium.wrappers import FrameStackObservation
from PIL import Image

import gymkit.wrappers.rendering as rendering
import gymkit.wrappers.video_settings as video_settings
from gymkit.wrappers import RecordVideo, observation_to_image

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
CHILD = Path(__file__).with_name("_video_child.py")


# --------------------------------------------------------------------------- helpers


class FakeImageEnv(gym.Env):
    """Deterministic picture env: a drifting gradient and a moving bright square."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, height=33, width=47, rgb=True, episode_length=20, fail_at=None,
                 grow_at=None, noise=False, render_mode="rgb_array"):  # fmt: skip
        self.height, self.width, self.rgb, self.noise = height, width, rgb, noise
        self.episode_length, self.fail_at, self.grow_at = episode_length, fail_at, grow_at
        shape = (height, width, 3) if rgb else (height, width)
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)
        self.action_space = spaces.Discrete(2)
        self.render_mode = render_mode
        self.t = 0

    def _frame(self):
        h = self.height + (1 if self.grow_at is not None and self.t >= self.grow_at else 0)
        y, x = np.mgrid[:h, : self.width]
        img = ((x * 4 + y * 2 + self.t * 3) % 200 + 20).astype(np.uint8)
        side = min(6, self.width // 2, h // 2)
        left = (self.t * 2) % (self.width - side)
        img[2 : 2 + side, left : left + side] = 250
        if self.rgb:
            img = np.stack([img, 255 - img, img // 2 + 60], axis=-1).astype(np.uint8)
        if self.noise:  # hard to compress: the encoder must write as it goes
            img = img ^ np.random.default_rng(self.t).integers(0, 64, img.shape, dtype=np.uint8)
        return img

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._frame(), {}

    def step(self, action):
        self.t += 1
        if self.fail_at is not None and self.t >= self.fail_at:
            raise RuntimeError("the env broke")
        return self._frame(), 1.0, self.t >= self.episode_length, False, {}

    def render(self):
        return self._frame()


class LoopingImageEnv(gym.Env):
    """Cheap big frames: a few precomputed 300x400 RGB pictures of a moving square."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, render_mode="rgb_array"):
        self.observation_space = spaces.Box(0, 255, (1,), np.uint8)
        self.action_space = spaces.Discrete(2)
        self.render_mode = render_mode
        y, x = np.mgrid[:300, :400]
        background = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
        self.pictures = []
        for i in range(16):
            picture = background.copy()
            picture[100:140, 20 * i : 20 * i + 40] = 255
            self.pictures.append(picture)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.uint8), {}

    def step(self, action):
        self.t += 1
        return np.zeros(1, np.uint8), 0.0, False, False, {}

    def render(self):
        return self.pictures[self.t % 16].copy()


def even_episodes(episode_id):
    return episode_id % 2 == 0


def make_cartpole_recorder(index, folder):
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    return RecordVideo(env, folder, episode_trigger=1, name_prefix=f"env{index}", max_videos=1)


def as_rgb(frame):
    return np.repeat(frame[..., None], 3, axis=2) if frame.ndim == 2 else frame


def mad(a, b):
    """Mean absolute difference of two pictures, over the part both cover."""
    a, b = as_rgb(np.asarray(a)), as_rgb(np.asarray(b))
    h, w = min(a.shape[0], b.shape[0]), min(a.shape[1], b.shape[1])
    return float(np.abs(a[:h, :w].astype(np.int16) - b[:h, :w].astype(np.int16)).mean())


def read_mp4(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def probe(path):
    """What `ffmpeg -i` reports about the video stream: codec, pixel format, size."""
    err = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True,
                         text=True).stderr  # fmt: skip
    m = re.search(r"Video: (\w+)[^,]*, (\w+)[^,]*, (\d+)x(\d+)", err)
    if m is None:
        return None
    return {"codec": m[1], "pix_fmt": m[2], "width": int(m[3]), "height": int(m[4])}


def read_gif(path):
    frames, durations = [], []
    with Image.open(path) as im:
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
            durations.append(im.info.get("duration"))
    return frames, durations


def load_sidecar(folder, name):
    with open(Path(folder) / f"{name}.json") as f:
        return json.load(f)


def run_episode(env, seed=0, policy=None, max_steps=10_000):
    """Play one episode; return what env.render() showed after reset and each step."""
    obs, _ = env.reset(seed=seed)
    frames = [env.render()]
    rewards = []
    for _ in range(max_steps):
        action = 0 if policy is None else policy(obs)
        obs, reward, terminated, truncated, _ = env.step(action)
        frames.append(env.render())
        rewards.append(reward)
        if terminated or truncated:
            break
    return frames, rewards


def balance(obs):
    return int(3 * obs[2] + obs[3] > 0)


def final_files(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def rss_mb(pid="self"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


# --------------------------------------------------------------------------- docs


def test_doctests_run_under_the_real_module_name():
    result = doctest.testmod(rendering, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------- reading back


def test_cartpole_mp4_is_h264_and_matches_the_rendered_frames(tmp_path):
    env = RecordVideo(gym.make("CartPole-v1", render_mode="rgb_array"), tmp_path,
                      episode_trigger=1, formats=("mp4", "gif"))  # fmt: skip
    frames, rewards = run_episode(env, seed=4)
    assert not env.recording  # finalised on the terminal step, not at the next reset
    assert final_files(tmp_path) == [
        "rl-video-episode-0.gif", "rl-video-episode-0.json", "rl-video-episode-0.mp4"
    ]  # fmt: skip
    mp4 = tmp_path / "rl-video-episode-0.mp4"
    assert probe(mp4) == {"codec": "h264", "pix_fmt": "yuv420p", "width": 600, "height": 400}
    data = mp4.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: plays while downloading

    video = read_mp4(mp4)
    assert len(video) == len(frames)
    assert video[0].shape == (400, 600, 3)
    for i in (0, len(frames) // 2, -1):
        assert mad(video[i], frames[i]) < 2.0
    # The tolerance can tell frames apart: the first frame is far from the last.
    assert mad(video[-1], frames[0]) > 2 * mad(video[-1], frames[-1])

    gif, durations = read_gif(tmp_path / "rl-video-episode-0.gif")
    assert len(gif) == len(frames)
    assert gif[0].shape == (400, 600, 3)
    for i in range(len(frames)):  # CartPole has < 256 colours: the GIF is exact
        np.testing.assert_array_equal(gif[i], frames[i])
    assert set(durations) == {20}  # 50 fps from metadata["render_fps"]

    meta = load_sidecar(tmp_path, "rl-video-episode-0")
    assert meta["env_id"] == "CartPole-v1"
    assert meta["seed"] == 4
    assert meta["episode_index"] == 0
    assert meta["length"] == len(rewards)
    assert meta["return"] == pytest.approx(sum(rewards))
    assert meta["frames"] == len(frames)
    assert meta["ended_by"] == "terminated"
    assert meta["fps"] == 50
    assert meta["files"]["mp4"]["codec"] == "h264"
    assert meta["files"]["mp4"]["frames_written"] == len(frames)
    assert meta["files"]["gif"]["frames_written"] == len(frames)
    env.close()


@pytest.mark.parametrize("rgb", [False, True], ids=["gray", "rgb"])
def test_odd_sized_frames_are_padded_for_mp4_and_exact_in_gif(tmp_path, rgb):
    env = RecordVideo(FakeImageEnv(height=33, width=47, rgb=rgb), tmp_path, episode_trigger=1,
                      formats=("mp4", "gif"))  # fmt: skip
    frames, _ = run_episode(env)
    assert frames[0].shape == ((33, 47, 3) if rgb else (33, 47))
    mp4 = tmp_path / "rl-video-episode-0.mp4"
    assert probe(mp4) == {"codec": "h264", "pix_fmt": "yuv420p", "width": 48, "height": 34}
    video = read_mp4(mp4)
    assert len(video) == len(frames) == 21
    tolerance = 12.0 if rgb else 4.0  # tiny saturated colour gradients lose most to yuv420p
    for i in (0, -1):
        assert mad(video[i][:33, :47], frames[i]) < tolerance
        # the padding repeats the last row and column
        assert mad(video[i][33], video[i][32]) < tolerance
    assert mad(video[-1][:33, :47], frames[0]) > 2 * mad(video[-1][:33, :47], frames[-1])

    gif, durations = read_gif(tmp_path / "rl-video-episode-0.gif")
    assert len(gif) == 21
    for got, want in zip(gif, frames, strict=True):
        np.testing.assert_array_equal(got, as_rgb(want))
    assert set(durations) == {40}  # 25 fps
    meta = load_sidecar(tmp_path, "rl-video-episode-0")
    assert meta["files"]["mp4"]["width"] == 48 and meta["files"]["gif"]["width"] == 47


def test_gif_over_50_fps_drops_frames_but_keeps_real_time(tmp_path):
    env = RecordVideo(FakeImageEnv(episode_length=40), tmp_path, episode_trigger=1, fps=120,
                      formats="gif")  # fmt: skip
    frames, _ = run_episode(env)
    gif, durations = read_gif(tmp_path / "rl-video-episode-0.gif")
    assert min(durations) >= 20  # browsers slow anything shorter down to 100 ms
    assert sum(durations) == pytest.approx(len(frames) / 120 * 1000, abs=25)
    assert len(gif) < len(frames)
    np.testing.assert_array_equal(gif[-1], frames[-1])  # the last picture is kept
    meta = load_sidecar(tmp_path, "rl-video-episode-0")
    gif_meta = meta["files"]["gif"]
    assert gif_meta["frames_written"] + gif_meta["frames_dropped"] == len(frames)


def test_gif_cap_finalises_the_gif_and_the_mp4_goes_on(tmp_path):
    env = RecordVideo(FakeImageEnv(episode_length=20), tmp_path, episode_trigger=1,
                      formats=("mp4", "gif"), gif_max_frames=5)  # fmt: skip
    env.reset()
    for _ in range(6):
        env.step(0)
    assert (tmp_path / "rl-video-episode-0.gif").exists()  # finalised at the cap
    assert not (tmp_path / "rl-video-episode-0.mp4").exists()
    for _ in range(14):
        env.step(0)
    gif, _ = read_gif(tmp_path / "rl-video-episode-0.gif")
    assert len(gif) == 5
    assert len(read_mp4(tmp_path / "rl-video-episode-0.mp4")) == 21
    meta = load_sidecar(tmp_path, "rl-video-episode-0")
    assert meta["files"]["gif"]["capped"] is True
    assert meta["files"]["gif"]["frames_written"] == 5


# --------------------------------------------------------------------------- triggers


def episodes_recorded(folder, prefix="rl-video"):
    names = [p.stem for p in Path(folder).glob(f"{prefix}-episode-*.mp4")]
    return sorted(int(n.rsplit("-", 1)[1]) for n in names)


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [(3, [0, 3, 6]), (even_episodes, [0, 2, 4, 6]), (None, [0, 1])],
    ids=["every-3", "function", "default-cubic"],
)
def test_episode_triggers(tmp_path, trigger, expected):
    env = RecordVideo(FakeImageEnv(episode_length=3), tmp_path, episode_trigger=trigger)
    for episode in range(7):
        run_episode(env, seed=episode)
    env.close()
    assert episodes_recorded(tmp_path) == expected
    for episode in expected:
        assert load_sidecar(tmp_path, f"rl-video-episode-{episode}")["episode_index"] == episode


def test_step_trigger_with_clips_spanning_episodes(tmp_path):
    env = RecordVideo(FakeImageEnv(episode_length=20), tmp_path, step_trigger=25, video_length=30)
    for episode in range(4):  # 80 steps
        run_episode(env, seed=episode)
    env.close()
    clips = sorted(p.stem for p in tmp_path.glob("*.mp4"))
    assert clips == ["rl-video-step-0", "rl-video-step-50"]  # step 25 falls inside clip 0
    for name in clips:
        assert len(read_mp4(tmp_path / f"{name}.mp4")) == 30
        meta = load_sidecar(tmp_path, name)
        assert meta["frames"] == 30 and meta["ended_by"] == "video_length"
        assert meta["episodes"] == 2  # 30 frames across an episode boundary
    assert load_sidecar(tmp_path, "rl-video-step-50")["global_step"] == 51


def test_max_videos_stops_after_k(tmp_path):
    env = RecordVideo(FakeImageEnv(episode_length=2), tmp_path, episode_trigger=1, max_videos=2)
    for episode in range(5):
        run_episode(env, seed=episode)
    env.close()
    assert episodes_recorded(tmp_path) == [0, 1]
    assert env.videos_started == 2
    assert [Path(p).name for p in env.video_paths] == [
        "rl-video-episode-0.mp4", "rl-video-episode-1.mp4"
    ]  # fmt: skip


def test_reset_mid_episode_finalises_the_cut_episode(tmp_path):
    env = RecordVideo(FakeImageEnv(episode_length=50), tmp_path, episode_trigger=1)
    env.reset(seed=1)
    for _ in range(5):
        env.step(0)
    env.reset(seed=2)
    assert len(read_mp4(tmp_path / "rl-video-episode-0.mp4")) == 6
    assert load_sidecar(tmp_path, "rl-video-episode-0")["ended_by"] == "reset"
    env.close()
    meta = load_sidecar(tmp_path, "rl-video-episode-1")
    assert meta["ended_by"] == "close" and meta["seed"] == 2 and meta["frames"] == 1


# --------------------------------------------------------------------------- pictures


def test_observation_to_image_tiles_every_layout():
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 256, (4, 9, 7), dtype=np.uint8)
    for obs, layout in [(stack, "auto"), (np.moveaxis(stack, 0, -1), "auto"),
                        (np.moveaxis(stack, 0, -1), "stack_last")]:  # fmt: skip
        img = observation_to_image(obs, layout=layout)
        assert img.shape == (2 * 9 + 2, 2 * 7 + 2)
        for i in range(4):
            r, c = divmod(i, 2)
            np.testing.assert_array_equal(img[r * 11 : r * 11 + 9, c * 9 : c * 9 + 7], stack[i])
    # three frames in a 2x2 grid, colour frames, single images
    assert observation_to_image(stack[:3]).shape == (20, 16)
    colour = rng.integers(0, 256, (2, 5, 6, 3), dtype=np.uint8)
    img = observation_to_image(colour)
    assert img.shape == (5, 14, 3)
    np.testing.assert_array_equal(img[:, 8:], colour[1])
    np.testing.assert_array_equal(observation_to_image(colour[0]), colour[0])
    np.testing.assert_array_equal(observation_to_image(stack[0]), stack[0])
    np.testing.assert_array_equal(observation_to_image(stack[0][..., None]), stack[0])


def test_observation_overlay_is_the_books_plot_observation():
    rng = np.random.default_rng(1)
    obs = rng.integers(0, 256, (84, 84, 4), dtype=np.uint8)
    # The book's plot_observation, written out as in chapter 18.
    img = obs[..., :3].astype(np.float32)
    delta = np.maximum(obs[..., 3] - obs[..., :3].astype(np.float32).mean(axis=-1), 0.0)
    img[..., 0] += delta
    img[..., 2] += delta
    book = np.clip(img / 150, 0, 1)
    got = observation_to_image(obs, style="overlay")
    assert got.shape == (84, 84, 3)
    assert np.abs(got / 255.0 - book).max() <= 1 / 255 + 1e-6


def test_observation_to_image_rejects_what_it_cannot_draw():
    with pytest.raises(TypeError, match="observation_to_image: `observation` must be uint8"):
        observation_to_image(np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(4,\) is not an image"):
        observation_to_image(np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="`observation_layout` must be one of"):
        observation_to_image(np.zeros((4, 4), dtype=np.uint8), layout="nchw")
    with pytest.raises(ValueError, match="'overlay' needs a stack of gray frames"):
        observation_to_image(np.zeros((4, 5, 5, 3), dtype=np.uint8), style="overlay")


def test_observation_source_records_the_frame_stack(tmp_path):
    env = FrameStackObservation(FakeImageEnv(rgb=False, episode_length=6), 4)
    env = RecordVideo(env, tmp_path, episode_trigger=1, frame_source="observation",
                      formats="gif")  # fmt: skip
    obs, _ = env.reset()
    seen = [obs]
    done = False
    while not done:
        obs, _, terminated, truncated, _ = env.step(0)
        seen.append(obs)
        done = terminated or truncated
    gif, _ = read_gif(tmp_path / "rl-video-episode-0.gif")
    assert len(gif) == 7
    for got, obs in zip(gif, seen, strict=True):
        np.testing.assert_array_equal(got, as_rgb(observation_to_image(obs)))


def test_agent_view_on_breakout_shows_frame_stack_and_text(tmp_path):
    ale_py = pytest.importorskip("ale_py")
    gym.register_envs(ale_py)
    env = gym.make("ALE/Breakout-v5", render_mode="rgb_array", frameskip=1)
    env = gym.wrappers.AtariPreprocessing(env, noop_max=0)  # (84, 84) gray, skip 4
    env = FrameStackObservation(env, 4)  # (4, 84, 84)
    env = RecordVideo(env, tmp_path, episode_trigger=1, video_length=25, fps=15,
                      frame_source="agent_view", text_overlay=True)  # fmt: skip
    obs, _ = env.reset(seed=0)
    raws, stacks = [env.render()], [obs]
    for i in range(24):
        obs, *_ = env.step(1 if i % 8 == 0 else 3)  # FIRE, then RIGHT
        raws.append(env.render())
        stacks.append(obs)
    assert not env.recording  # 25 frames: clip done
    video = read_mp4(tmp_path / "rl-video-episode-0.mp4")
    assert len(video) == 25
    # 210x160 screen, 4 px gap, 170x170 tiles (2x2 of 84 with 2 px gaps; no whole-number
    # upscale fits 210), then a 20 px text bar.
    assert video[0].shape == (210 + 20, 160 + 4 + 170, 3)
    for i in (0, 12, 24):
        assert mad(video[i][:210, :160], raws[i]) < 4.0
        assert mad(video[i][:170, 164:], observation_to_image(stacks[i])) < 4.0
        assert video[i][180:210, 164:].max() < 16  # below the panel: black fill
    bars = [video[i][210:, :] for i in (0, 24)]
    assert all(bar.max() > 200 for bar in bars)  # white text on black
    assert mad(bars[0], bars[1]) > 1.0  # the step count changed
    assert mad(video[24][:170, 164:], observation_to_image(stacks[0])) > 1.0
    env.close()


def test_frame_size_and_text_overlay_on_a_gray_env(tmp_path):
    env = RecordVideo(FakeImageEnv(rgb=False, episode_length=3), tmp_path, episode_trigger=1,
                      frame_size=(94, 66), text_overlay=True, formats=("mp4", "gif"))  # fmt: skip
    frames, _ = run_episode(env)
    info = probe(tmp_path / "rl-video-episode-0.mp4")
    assert (info["width"], info["height"]) == (94, 66 + 20)
    gif, _ = read_gif(tmp_path / "rl-video-episode-0.gif")
    assert gif[0].shape == (86, 94, 3)
    upscaled = cv2.resize(frames[-1], (94, 66), interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(gif[-1][:66], as_rgb(upscaled))


# --------------------------------------------------------------------------- never lose data


def test_frames_stream_to_a_temporary_name_while_recording(tmp_path):
    env = RecordVideo(FakeImageEnv(height=120, width=160, episode_length=10_000, noise=True),
                      tmp_path, episode_trigger=1, formats=("mp4", "gif"))  # fmt: skip
    env.reset()
    sizes = []
    for _ in range(3):
        for _ in range(60):
            env.step(0)
        time.sleep(0.2)  # let ffmpeg catch up
        sizes.append([(tmp_path / f"rl-video-episode-0.{ext}.part").stat().st_size
                      for ext in ("mp4", "gif")])  # fmt: skip
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob("*.gif"))
    for ext in range(2):  # both files grow as frames come
        assert sizes[0][ext] < sizes[1][ext] < sizes[2][ext]
    env.close()
    assert final_files(tmp_path) == [
        "rl-video-episode-0.gif", "rl-video-episode-0.json", "rl-video-episode-0.mp4"
    ]  # fmt: skip
    assert len(read_mp4(tmp_path / "rl-video-episode-0.mp4")) == 181


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_memory_stays_flat_over_a_long_episode(tmp_path):
    # 1600 RGB frames of 300x400: 576 MB if they were held, as Gymnasium's RecordVideo does.
    env = RecordVideo(LoopingImageEnv(), tmp_path, episode_trigger=1, formats=("mp4", "gif"),
                      gif_max_frames=10_000)  # fmt: skip
    env.reset()
    encoder_pid = env._recording.writers["mp4"]._proc.pid  # the ffmpeg child
    python_rss, ffmpeg_rss = [], []
    for step in range(1, 1601):
        env.step(0)
        if step % 400 == 0:
            python_rss.append(rss_mb())
            ffmpeg_rss.append(rss_mb(encoder_pid))
    env.close()
    # Counted from the containers (decoding 1601 frames twice would double the test time).
    capture = cv2.VideoCapture(str(tmp_path / "rl-video-episode-0.mp4"))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 1601
    capture.release()
    with Image.open(tmp_path / "rl-video-episode-0.gif") as gif:
        assert gif.n_frames == 1601
    assert python_rss[-1] - python_rss[0] < 20, python_rss  # after warm-up: flat
    assert ffmpeg_rss[-1] - ffmpeg_rss[0] < 20, ffmpeg_rss


def test_close_mid_episode_finalises_a_playable_file(tmp_path):
    env = RecordVideo(gym.make("CartPole-v1", render_mode="rgb_array"), tmp_path,
                      episode_trigger=1, formats=("mp4", "gif"))  # fmt: skip
    obs, _ = env.reset(seed=0)
    frames = [env.render()]
    for _ in range(10):
        obs, *_ = env.step(balance(obs))
        frames.append(env.render())
    env.close()
    video = read_mp4(tmp_path / "rl-video-episode-0.mp4")
    assert len(video) == 11 and mad(video[-1], frames[-1]) < 2.0
    assert len(read_gif(tmp_path / "rl-video-episode-0.gif")[0]) == 11
    assert load_sidecar(tmp_path, "rl-video-episode-0")["ended_by"] == "close"


def test_garbage_collection_finalises_a_playable_file(tmp_path):
    env = RecordVideo(FakeImageEnv(episode_length=100), tmp_path, episode_trigger=1,
                      formats=("mp4", "gif"))  # fmt: skip
    env.reset()
    for _ in range(7):
        env.step(0)
    assert env.recording
    del env
    gc.collect()
    assert len(read_mp4(tmp_path / "rl-video-episode-0.mp4")) == 8
    assert len(read_gif(tmp_path / "rl-video-episode-0.gif")[0]) == 8
    assert load_sidecar(tmp_path, "rl-video-episode-0")["ended_by"] == "not_closed"
    assert not list(tmp_path.glob("*.part"))


def test_exception_in_step_finalises_then_propagates(tmp_path):
    env = RecordVideo(FakeImageEnv(fail_at=6), tmp_path, episode_trigger=1)
    env.reset()
    with pytest.raises(RuntimeError, match="the env broke"):
        for _ in range(10):
            env.step(0)
    assert not env.recording
    assert len(read_mp4(tmp_path / "rl-video-episode-0.mp4")) == 6
    meta = load_sidecar(tmp_path, "rl-video-episode-0")
    assert meta["ended_by"] == "exception"
    assert meta["error"] == "RuntimeError: the env broke"


def test_frame_size_change_raises_and_keeps_the_video(tmp_path):
    env = RecordVideo(FakeImageEnv(grow_at=4), tmp_path, episode_trigger=1)
    env.reset()
    with pytest.raises(ValueError, match=r"one frame size.*\(33, 47, 3\).*\(34, 47, 3\)"):
        for _ in range(5):
            env.step(0)
    assert len(read_mp4(tmp_path / "rl-video-episode-0.mp4")) == 4


def run_child(folder, mode, steps):
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(folder), mode, str(steps)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_unhandled_exception_in_the_loop_still_leaves_a_playable_file(tmp_path):
    child = run_child(tmp_path, "raise", 30)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 1 and "the training loop failed" in err
    assert final_files(tmp_path) == [
        "rl-video-episode-0.gif", "rl-video-episode-0.json", "rl-video-episode-0.mp4"
    ]  # fmt: skip
    assert len(read_mp4(tmp_path / "rl-video-episode-0.mp4")) == 31
    assert len(read_gif(tmp_path / "rl-video-episode-0.gif")[0]) == 31
    assert load_sidecar(tmp_path, "rl-video-episode-0")["ended_by"] == "not_closed"


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_sigkill_leaves_no_file_under_a_final_name(tmp_path):
    child = run_child(tmp_path, "kill", 30)
    try:
        assert child.stdout.readline().strip() == "READY", child.stderr.read()
        # The live child holds the name prefix for this folder: a recorder here steps aside.
        with pytest.warns(UserWarning, match="this one uses 'rl-video-1'"):
            neighbour = RecordVideo(FakeImageEnv(), tmp_path, episode_trigger=1)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=30)  # reap it and close its pipes
    neighbour.close()
    names = final_files(tmp_path)
    assert not [n for n in names if n.endswith((".mp4", ".gif", ".json"))], names
    assert "rl-video-episode-0.mp4.part" in names and "rl-video-episode-0.gif.part" in names
    # ffmpeg saw its pipe close and completes the .part: the clip is recoverable.
    part = tmp_path / "rl-video-episode-0.mp4.part"
    deadline = time.monotonic() + 20
    while probe(part) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert probe(part)["codec"] == "h264"
    assert len(read_mp4(part)) == 31
    # The OS dropped the dead child's claim with its process.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert RecordVideo(FakeImageEnv(), tmp_path).video_prefix == "rl-video"


# --------------------------------------------------------------------------- fallback


def test_without_imageio_ffmpeg_mp4v_is_used_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # import now fails
    monkeypatch.setattr(video_settings, "_warned", set())
    with pytest.warns(UserWarning, match=r"imageio-ffmpeg is not installed.*'mp4v'.*browsers.*"
                      r"pip install imageio-ffmpeg"):  # fmt: skip
        env = RecordVideo(FakeImageEnv(), tmp_path / "a", episode_trigger=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second wrapper does not warn again
        RecordVideo(FakeImageEnv(), tmp_path / "b", episode_trigger=1).close()
    frames, _ = run_episode(env)
    mp4 = tmp_path / "a" / "rl-video-episode-0.mp4"
    assert probe(mp4) == {"codec": "mpeg4", "pix_fmt": "yuv420p", "width": 48, "height": 34}
    video = read_mp4(mp4)
    assert len(video) == len(frames)
    assert mad(video[-1][:33, :47], frames[-1]) < 12.0
    assert load_sidecar(tmp_path / "a", "rl-video-episode-0")["files"]["mp4"]["codec"] == "mpeg4"
    assert not [p for p in (tmp_path / "a").iterdir() if ".part" in p.name]
    with pytest.raises(DependencyNotInstalled, match="RecordVideo: mp4_encoder='ffmpeg'.*"
                       "pip install imageio-ffmpeg"):  # fmt: skip
        RecordVideo(FakeImageEnv(), tmp_path / "c", mp4_encoder="ffmpeg")


# --------------------------------------------------------------------------- vector envs


def test_sync_vector_env_gives_each_sub_env_its_own_files(tmp_path):
    record = partial(RecordVideo, video_folder=tmp_path, episode_trigger=1, max_videos=1)
    with pytest.warns(UserWarning, match="another live RecordVideo.*this one uses 'rl-video-1'"):
        envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync",
                            render_mode="rgb_array", wrappers=[record])  # fmt: skip
    envs.reset(seed=0)
    envs.action_space.seed(0)
    for _ in range(200):
        envs.step(envs.action_space.sample())
        if all(r.videos_started and not r.recording for r in envs.envs):
            break
    envs.close()
    for prefix in ("rl-video", "rl-video-1"):
        meta = load_sidecar(tmp_path, f"{prefix}-episode-0")
        assert meta["name_prefix"] == prefix and meta["ended_by"] == "terminated"
        assert len(read_mp4(tmp_path / f"{prefix}-episode-0.mp4")) == meta["frames"]


def test_async_vector_env_with_indexed_prefixes(tmp_path):
    envs = gym.vector.AsyncVectorEnv(
        [partial(make_cartpole_recorder, i, str(tmp_path)) for i in range(2)]
    )
    envs.reset(seed=[1, 2])
    envs.action_space.seed(0)
    for _ in range(100):  # random CartPole episodes last ~20 steps
        envs.step(envs.action_space.sample())
    envs.close()
    for i in range(2):
        meta = load_sidecar(tmp_path, f"env{i}-episode-0")
        assert meta["seed"] == i + 1
        assert len(read_mp4(tmp_path / f"env{i}-episode-0.mp4")) == meta["frames"]
    pids = {load_sidecar(tmp_path, f"env{i}-episode-0")["pid"] for i in range(2)}
    assert os.getpid() not in pids and len(pids) == 2  # recorded inside the workers


def test_wrapper_pickles_mid_recording_and_the_copy_does_not_clash(tmp_path):
    env = RecordVideo(FakeImageEnv(episode_length=30), tmp_path, episode_trigger=1)
    env.reset()
    env.step(0)
    copy = pickle.loads(pickle.dumps(env))
    assert env.recording and not copy.recording
    with pytest.warns(UserWarning, match="this one uses 'rl-video-1'"):
        copy.reset()
    copy.step(0)
    env.close()
    copy.close()
    assert len(read_mp4(tmp_path / "rl-video-episode-0.mp4")) == 2
    assert len(read_mp4(tmp_path / "rl-video-1-episode-1.mp4")) == 2  # the copy's next episode


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fps": 0}, ValueError, r"RecordVideo: `fps` must be in \(0, 1000\], got 0"),
        ({"fps": float("nan")}, ValueError, r"`fps` must be in \(0, 1000\], got nan"),
        ({"fps": "30"}, TypeError, r"RecordVideo: `fps` must be a number, got '30'"),
        ({"fps": True}, TypeError, r"`fps` must be a number, got True"),
        ({"frame_size": (0, 10)}, ValueError,
         r"`frame_size` sides must be in \[1, 8192\], got \(0, 10\)"),
        ({"frame_size": (64.0, 48)}, TypeError,
         r"`frame_size` must be a \(width, height\) pair of ints"),
        ({"frame_size": 64}, TypeError, r"`frame_size` must be a \(width, height\) pair"),
        ({"formats": ("mp4", "avi")}, ValueError,
         r"`formats` must hold distinct entries of \('mp4', 'gif'\), got \('mp4', 'avi'\)"),
        ({"formats": ()}, TypeError, r"`formats` must be 'mp4', 'gif' or a tuple"),
        ({"episode_trigger": 0}, ValueError, r"`episode_trigger` as an int must be >= 1, got 0"),
        ({"step_trigger": "often"}, TypeError, r"`step_trigger` must be an int N"),
        ({"video_length": -1}, ValueError, r"`video_length` must be >= 0, got -1"),
        ({"max_videos": 0}, ValueError, r"`max_videos` must be >= 1, got 0"),
        ({"gif_max_frames": 2.5}, TypeError, r"`gif_max_frames` must be an int, got 2.5"),
        ({"name_prefix": "a/b"}, ValueError, r"`name_prefix` must be a non-empty file name"),
        ({"name_prefix": ""}, ValueError, r"`name_prefix` must be a non-empty"),
        ({"frame_source": "screen"}, ValueError, r"`frame_source` must be one of"),
        ({"mp4_encoder": "nvenc"}, ValueError, r"`mp4_encoder` must be one of"),
        ({"text_overlay": "yes"}, TypeError, r"`text_overlay` must be a bool"),
        ({"observation_style": "heatmap"}, ValueError, r"`observation_style` must be one of"),
    ],
)  # fmt: skip
def test_bad_arguments_raise_at_construction(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        RecordVideo(FakeImageEnv(), tmp_path, **kwargs)


def test_bad_env_raises_at_construction(tmp_path):
    with pytest.raises(ValueError, match=r"RecordVideo: frame_source='render' needs an env whose "
                       r"render\(\) returns an image.*got render_mode=None"):  # fmt: skip
        RecordVideo(gym.make("CartPole-v1"), tmp_path)
    with pytest.raises(TypeError, match=r"frame_source='observation' needs a uint8 Box image "
                       r"observation space, got Box\(.*float32\)"):  # fmt: skip
        RecordVideo(gym.make("CartPole-v1", render_mode="rgb_array"), tmp_path,
                    frame_source="observation")  # fmt: skip
    with pytest.raises(ValueError, match=r"fps \(from env.metadata\['render_fps'\]\)` must be in"):
        env = FakeImageEnv()
        env.metadata = {"render_fps": -5}
        RecordVideo(env, tmp_path)


def test_unwritable_folder_raises_permission_error(tmp_path):
    if os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o555)
        target = folder
    else:  # root writes through file modes; sysfs refuses even root
        target = Path("/sys/gymkit-video-test")
        try:
            os.makedirs(target)
        except PermissionError:
            pass
        else:
            os.rmdir(target)
            pytest.skip("no folder here refuses writes to root")
    with pytest.raises(PermissionError, match=r"RecordVideo: `video_folder` .* must be a "
                       r"writable folder"):  # fmt: skip
        RecordVideo(FakeImageEnv(), target)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ValueError, match="`video_folder` .* exists and is not a folder"):
        RecordVideo(FakeImageEnv(), blocker)
