"""Rendering wrappers: record what an agent does, and what it sees, as video.

* ``RecordVideo`` - records episodes (or fixed-length clips) to an H.264 MP4 and/or a
  GIF, streaming each frame to disk as it comes, from ``render()``, from the
  observation, or both side by side (the agent's view).

Its pictures are drawn by `gymkit.wrappers.observation_image`, its settings checked by
`gymkit.wrappers.video_settings`, its files written by `gymkit.wrappers.video_writers`.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import tempfile
import time
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, Literal, SupportsFloat

import cv2
import gymnasium as gym
import numpy as np
from gymnasium.core import ActType, ObsType

from gymkit.common.checks import one_of, positive_int
from gymkit.wrappers.observation_image import (
    agent_view,
    draw_observation,
    format_action,
    video_frame,
    with_text_bar,
)
from gymkit.wrappers.video_settings import (
    MP4_ENCODERS,
    capped_cubic_video_schedule,
    check_formats,
    check_fps,
    check_frame_size,
    check_frame_source,
    check_name_prefix,
    check_trigger,
    check_video_folder,
    h264_ffmpeg,
)
from gymkit.wrappers.video_writers import FFmpegMp4Writer, GifWriter, OpenCVMp4Writer

__all__ = ["RecordVideo"]

_WHO = "RecordVideo"


class RecordVideo(
    gym.Wrapper[ObsType, ActType, ObsType, ActType],
    Generic[ObsType, ActType],
    gym.utils.RecordConstructorArgs,
):
    """Record episodes to a browser-playable MP4 and/or a GIF, streaming frames to disk.

    What it fixes in Gymnasium's ``RecordVideo``: frames go to the encoder as they come,
    so memory stays flat however long the episode (Gymnasium holds every frame until
    the episode ends); no moviepy: the MP4 is H.264 in yuv420p with the moov atom first,
    which browsers, Jupyter and GitHub READMEs play, encoded by the ffmpeg that
    ``imageio-ffmpeg`` ships; and no video is lost: an episode cut by ``close()``, an
    exception in ``step()``, garbage collection or interpreter exit still ends in a
    finalised file, and a file is only ever written under a temporary name
    (``NAME.mp4.part``, ``NAME.gif.part``) in the video folder and renamed when complete,
    so a crash never leaves a half-written file under a final name. (After a hard kill,
    ffmpeg still completes ``NAME.mp4.part`` on its own; rename it to recover the clip.)

    **Frames.** ``frame_source="render"`` records ``env.render()`` (the env needs an
    image ``render_mode`` such as ``"rgb_array"``); ``"observation"`` records the
    observation drawn by `observation_to_image`; ``"agent_view"`` puts the rendered
    frame and the observation the agent receives side by side (the observation panel
    scaled up by the largest whole factor that fits the frame's height, 4 gray pixels
    between them). ``text_overlay=True`` adds a 20-pixel bar below each picture with the
    episode, step, return so far and last action. Gray and RGB frames of any size are
    accepted; the MP4 repeats the last row/column to make odd sides even (yuv420p).
    ``frame_size=(width, height)`` resizes each picture first (area filter when
    shrinking, nearest pixel when enlarging).

    **When.** ``episode_trigger`` starts a recording at a ``reset()``; ``step_trigger``
    at a ``step()`` (steps counted over all episodes from 0). Either is an ``int`` N
    (every N-th: 0, N, 2N, ...) or a function of the index returning ``bool``; with
    neither, Gymnasium's schedule (episodes 0, 1, 8, 27, ..., 1000, 2000, ...).
    ``video_length=0`` records until the episode ends, and the files are finalised on
    that very step; ``video_length=K`` records clips of exactly K frames, across
    episode boundaries if need be. Triggers that fire during a recording are ignored.
    ``max_videos`` stops recording after that many.

    **Files.** In ``video_folder``: ``{prefix}-episode-{i}.mp4`` / ``.gif`` or
    ``{prefix}-step-{i}.*``, and one JSON sidecar ``{prefix}-...json`` per recording
    with the env id, the reset seed, the episode index, the length in steps, the
    return (the sum of the rewards of the recorded steps), frames captured, why it
    ended and, per file, the codec, size and frames written. Existing files
    of the same name are replaced. MP4: H.264 through ``imageio-ffmpeg``; without it,
    OpenCV's ``mp4v`` with a one-time warning (browsers do not play ``mp4v``).
    GIF: written frame by frame (the changed rectangle of each frame with its own
    256-colour palette, exact for frames of up to 256 colours, such as CartPole's and
    Atari's), so memory stays flat too. GIFs are capped at ``gif_max_frames`` frames
    (default 1000: 20 s at 50 fps; a 600x400 CartPole GIF takes about 0.5 kB a frame and
    Breakout 0.1 kB, but a picture that changes everywhere, such as a moving camera, up to
    a byte per pixel a frame); the GIF is finalised at the cap and the MP4 goes on.
    GIF delays are whole centiseconds, and browsers play anything under 2 cs as 10 cs,
    so above 50 fps frames are dropped from the GIF to keep it real time.

    **Vector envs.** Each sub-env needs its own file names. Pass
    ``name_prefix=f"env{i}"`` from your ``make_env(i)`` for names that follow the index.
    Otherwise (``gym.make_vec(..., wrappers=[...])`` gives every sub-env the same
    arguments) live recorders sharing a folder and prefix are told apart automatically,
    across processes: the first keeps ``name_prefix``, the next ``{name_prefix}-1``,
    then ``-2``, ... (in order of construction, which is the index order for
    ``SyncVectorEnv`` but not for ``AsyncVectorEnv``); the prefix used is
    ``video_prefix`` and is written in each sidecar.

    Triggers are stored as given: pass an ``int`` or a module-level function (not a
    lambda) to keep the wrapper picklable. A pickled copy does not continue the
    recording in progress.

    Example:
        >>> import json, os, tempfile
        >>> import gymnasium as gym
        >>> from gymkit.wrappers.rendering import RecordVideo
        >>> folder = tempfile.mkdtemp()
        >>> env = gym.make("CartPole-v1", render_mode="rgb_array")
        >>> space = env.observation_space
        >>> env = RecordVideo(env, folder, episode_trigger=2, formats=("mp4", "gif"))
        >>> env.observation_space == space  # recording leaves the spaces as they are
        True
        >>> for episode in range(3):
        ...     obs, info = env.reset(seed=episode)
        ...     done = False
        ...     while not done:
        ...         obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        ...         done = terminated or truncated
        >>> env.close()
        >>> for name in sorted(os.listdir(folder)):  # episodes 0 and 2
        ...     print(name)
        rl-video-episode-0.gif
        rl-video-episode-0.json
        rl-video-episode-0.mp4
        rl-video-episode-2.gif
        rl-video-episode-2.json
        rl-video-episode-2.mp4
        >>> with open(os.path.join(folder, "rl-video-episode-2.json")) as f:
        ...     sidecar = json.load(f)
        >>> sidecar["env_id"], sidecar["seed"], sidecar["files"]["mp4"]["codec"]
        ('CartPole-v1', 2, 'h264')
        >>> sidecar["frames"] == sidecar["length"] + 1  # the reset frame, then one per step
        True
        >>> import shutil; shutil.rmtree(folder)

    Args:
        env: the environment to record.
        video_folder: folder for the videos; created if missing, must be writable.
        episode_trigger: ``int`` N (every N-th episode) or ``f(episode_index) -> bool``.
        step_trigger: ``int`` N (every N-th step) or ``f(step_index) -> bool``.
        video_length: frames per clip; 0 (default) records whole episodes.
        name_prefix: start of every file name (no path separators).
        fps: frames per second of the video; default ``env.metadata["render_fps"]``,
            else 30.
        formats: ``"mp4"``, ``"gif"``, or both as a tuple.
        frame_source: ``"render"``, ``"observation"`` or ``"agent_view"``.
        observation_layout: how to read the observation (see `observation_to_image`).
        observation_style: ``"tiles"`` or ``"overlay"`` for a frame stack.
        text_overlay: add the episode/step/return/action bar under each picture.
        frame_size: ``(width, height)`` to resize each picture to, or ``None``.
        max_videos: stop after this many recordings; ``None`` for no limit.
        gif_max_frames: the most frames a GIF gets.
        mp4_encoder: ``"auto"`` (H.264 through imageio-ffmpeg, else OpenCV ``mp4v``
            with a warning), ``"ffmpeg"`` (H.264 or an error) or ``"opencv"``.

    Change logs:
     * v0.1.0 - Initially added, after ``gymnasium.wrappers.RecordVideo``.
    """

    def __init__(
        self,
        env: gym.Env[ObsType, ActType],
        video_folder: str | os.PathLike[str],
        episode_trigger: int | Callable[[int], bool] | None = None,
        step_trigger: int | Callable[[int], bool] | None = None,
        video_length: int = 0,
        name_prefix: str = "rl-video",
        fps: float | None = None,
        *,
        formats: str | Sequence[str] = ("mp4",),
        frame_source: Literal["render", "observation", "agent_view"] = "render",
        observation_layout: Literal["auto", "image", "stack_first", "stack_last"] = "auto",
        observation_style: Literal["tiles", "overlay"] = "tiles",
        text_overlay: bool = False,
        frame_size: tuple[int, int] | None = None,
        max_videos: int | None = None,
        gif_max_frames: int = 1000,
        mp4_encoder: Literal["auto", "ffmpeg", "opencv"] = "auto",
    ):
        gym.utils.RecordConstructorArgs.__init__(
            self,
            video_folder=video_folder,
            episode_trigger=episode_trigger,
            step_trigger=step_trigger,
            video_length=video_length,
            name_prefix=name_prefix,
            fps=fps,
            formats=formats,
            frame_source=frame_source,
            observation_layout=observation_layout,
            observation_style=observation_style,
            text_overlay=text_overlay,
            frame_size=frame_size,
            max_videos=max_videos,
            gif_max_frames=gif_max_frames,
            mp4_encoder=mp4_encoder,
        )
        gym.Wrapper.__init__(self, env)
        self._observation_kind = check_frame_source(
            env, frame_source, observation_layout, observation_style
        )
        self.episode_trigger = check_trigger(episode_trigger, "episode_trigger")
        self.step_trigger = check_trigger(step_trigger, "step_trigger")
        if episode_trigger is None and step_trigger is None:
            self.episode_trigger = capped_cubic_video_schedule
        self.video_length = positive_int(_WHO, "video_length", video_length, minimum=0)
        self.max_videos = (
            None if max_videos is None else positive_int(_WHO, "max_videos", max_videos)
        )
        self.gif_max_frames = positive_int(_WHO, "gif_max_frames", gif_max_frames)
        if not isinstance(text_overlay, (bool, np.bool_)):
            raise TypeError(f"{_WHO}: `text_overlay` must be a bool, got {text_overlay!r}")
        self.formats = check_formats(formats)
        self.fps = check_fps(fps, self.metadata)
        self.frame_size = check_frame_size(frame_size)
        self.name_prefix = check_name_prefix(name_prefix)
        one_of(_WHO, "mp4_encoder", mp4_encoder, MP4_ENCODERS)
        self._ffmpeg_exe = h264_ffmpeg(mp4_encoder) if "mp4" in self.formats else None
        self.video_folder = check_video_folder(video_folder)

        self.frame_source = frame_source
        self.observation_layout = observation_layout
        self.observation_style = observation_style
        self.text_overlay = bool(text_overlay)
        self.mp4_encoder = mp4_encoder

        self.episode_id = -1
        self.step_id = -1
        self.videos_started = 0
        self.video_paths: list[str] = []
        self._episode_step = 0
        self._episode_return = 0.0
        self._episode_seed: int | None = None
        self._recording: _Recording | None = None
        # weakref.finalize calls: they finish the recording and release the prefix if
        # the wrapper is garbage-collected or the interpreter exits before close().
        self._recording_finalizer: weakref.finalize | None = None
        self._claim_release: weakref.finalize | None = None
        self._claim_prefix()  # sets video_prefix

    # ------------------------------------------------------------------ gym API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env; start a recording if the episode trigger says so."""
        if self.video_length == 0:
            self._stop("reset")
        obs, info = self.env.reset(seed=seed, options=options)
        self.episode_id += 1
        self._episode_step = 0
        self._episode_return = 0.0
        self._episode_seed = seed
        if self._recording is not None:
            self._recording.episodes += 1
        else:
            self._maybe_start("episode", self.episode_trigger, self.episode_id)
        if self._recording is not None:
            self._capture(obs, None)
        return obs, info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env; record the new frame while recording."""
        with self._stop_on_error():
            obs, reward, terminated, truncated, info = self.env.step(action)
        self.step_id += 1
        self._episode_step += 1
        self._episode_return += float(reward)
        self._maybe_start("step", self.step_trigger, self.step_id)
        if self._recording is not None:
            self._recording.length += 1
            self._recording.total_reward += float(reward)
            self._capture(obs, action)
            if self.video_length and self._recording.frames >= self.video_length:
                self._stop("video_length")
            elif not self.video_length and (terminated or truncated):
                self._stop("terminated" if terminated else "truncated")
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        """Finalise the recording in progress, then close the env."""
        try:
            self._stop("close")
        finally:
            if self._claim_release is not None:
                self._claim_release()  # runs once, then the finalizer is dead
                self._claim_release = None
            super().close()

    # ------------------------------------------------------------------ recording

    @property
    def recording(self) -> bool:
        """Whether a recording is in progress."""
        return self._recording is not None

    def start_recording(self, video_name: str) -> None:
        """Start a recording named ``video_name`` (finishing the current one first)."""
        self._stop("start_recording")
        self._claim_prefix()
        env_spec = getattr(self.env.unwrapped, "spec", None)
        facts = {
            "env_id": env_spec.id if env_spec is not None else None,
            "seed": self._episode_seed,
            "episode_index": self.episode_id,
            "episode_step": self._episode_step,
            "global_step": self.step_id + 1,  # env steps taken before the first frame
            "name_prefix": self.video_prefix,
            "frame_source": self.frame_source,
            "pid": os.getpid(),
        }
        recording = _Recording(
            self.video_folder,
            video_name,
            self.formats,
            self.fps,
            self._ffmpeg_exe,
            self.gif_max_frames,
            facts,
        )
        self._recording = recording
        self.videos_started += 1
        self._recording_finalizer = weakref.finalize(self, recording.finish, "not_closed")

    def stop_recording(self) -> None:
        """Finish the recording in progress, if any."""
        self._stop("stop_recording")

    def _maybe_start(
        self, kind: str, trigger: int | Callable[[int], bool] | None, index: int
    ) -> None:
        """Start ``{prefix}-{kind}-{index}`` if the trigger fires and no recording runs."""
        if self._recording is not None or trigger is None:
            return
        if self.max_videos is not None and self.videos_started >= self.max_videos:
            return
        if trigger(index) if callable(trigger) else index % trigger == 0:
            self._claim_prefix()  # an unpickled copy claims its own prefix before naming
            self.start_recording(f"{self.video_prefix}-{kind}-{index}")

    def _stop(self, ended_by: str, error: str | None = None) -> None:
        """Finish the recording in progress, if any, noting why it ended."""
        recording, self._recording = self._recording, None
        if recording is None:
            return
        self._recording_finalizer.detach()
        self._recording_finalizer = None
        self.video_paths.extend(recording.finish(ended_by, error))

    @contextlib.contextmanager
    def _stop_on_error(self) -> Iterator[None]:
        """Finish the recording, noting the error, if the body raises; then re-raise."""
        try:
            yield
        except BaseException as e:
            self._stop("exception", f"{type(e).__name__}: {e}")
            raise

    def _capture(self, obs: Any, action: Any) -> None:
        with self._stop_on_error():
            self._recording.add_frame(self._picture(obs, action))

    def _picture(self, obs: Any, action: Any) -> np.ndarray:
        """The picture to record now: frame and/or observation, resized, with the text bar."""
        if self.frame_source == "render":
            picture = video_frame(self.env.render())
        else:
            panel = draw_observation(
                np.asarray(obs), self._observation_kind, self.observation_style
            )
            if self.frame_source == "observation":
                picture = panel
            else:
                picture = agent_view(video_frame(self.env.render()), panel)
        if self.frame_size is not None and picture.shape[1::-1] != self.frame_size:
            shrink = self.frame_size[0] * self.frame_size[1] < picture.shape[0] * picture.shape[1]
            picture = cv2.resize(
                picture,
                self.frame_size,
                interpolation=cv2.INTER_AREA if shrink else cv2.INTER_NEAREST,
            )
        if self.text_overlay:
            text = (
                f"ep {self.episode_id} step {self._episode_step} "
                f"return {self._episode_return:.2f} action {format_action(action)}"
            )
            picture = with_text_bar(picture, text)
        return picture

    # ------------------------------------------------------------------ naming, pickling

    def _claim_prefix(self) -> None:
        """Reserve a file-name prefix among live recorders (no-op while one is held)."""
        if self._claim_release is not None:
            return
        claim = _PrefixClaim(self.video_folder, self.name_prefix)
        self._claim_release = weakref.finalize(self, claim.release)
        self.video_prefix = claim.prefix
        if claim.prefix != self.name_prefix:
            warnings.warn(
                f"{_WHO}: another live RecordVideo writes to {self.video_folder} with "
                f"name_prefix={self.name_prefix!r}; this one uses {claim.prefix!r}. Give each "
                "sub-env its own name_prefix (e.g. f'env{i}') to choose the names.",
                UserWarning,
                stacklevel=3,
            )

    def __getstate__(self) -> dict[str, Any]:
        # A copy neither continues the recording nor shares the prefix claim.
        state = dict(self.__dict__)
        state.update(_recording=None, _recording_finalizer=None, _claim_release=None)
        return state


class _Recording:
    """One video being written: its writers and the facts for its sidecar.

    It holds no reference to the wrapper, so a ``weakref.finalize`` on the wrapper can
    finish it when the wrapper is garbage-collected or the interpreter exits.
    """

    def __init__(
        self,
        folder: str,
        name: str,
        formats: tuple[str, ...],
        fps: float,
        ffmpeg_exe: str | None,
        gif_max_frames: int,
        facts: dict[str, Any],
    ):
        self.folder, self.name, self.formats, self.fps = folder, name, formats, fps
        self.ffmpeg_exe, self.gif_max_frames = ffmpeg_exe, gif_max_frames
        self.facts = facts
        self.writers: dict[str, FFmpegMp4Writer | OpenCVMp4Writer | GifWriter] = {}
        self.shape: tuple[int, ...] | None = None
        self.frames = 0
        self.length = 0
        self.total_reward = 0.0
        self.episodes = 1
        self.finished = False
        self.paths: list[str] = []

    def add_frame(self, frame: np.ndarray) -> None:
        if self.shape is None:
            self._open(frame)
        elif frame.shape != self.shape:
            raise ValueError(
                f"{_WHO}: a video keeps one frame size; the first frame of {self.name!r} "
                f"was {self.shape}, this one is {frame.shape} (set `frame_size` to resize)"
            )
        for writer in self.writers.values():
            writer.write(frame)
        self.frames += 1

    def _open(self, frame: np.ndarray) -> None:
        height, width = frame.shape[:2]
        gray = frame.ndim == 2
        try:
            for fmt in self.formats:
                path = os.path.join(self.folder, f"{self.name}.{fmt}")
                if fmt == "gif":
                    writer: Any = GifWriter(path, width, height, self.fps, self.gif_max_frames)
                elif self.ffmpeg_exe is not None:
                    writer = FFmpegMp4Writer(self.ffmpeg_exe, path, width, height, gray, self.fps)
                else:
                    writer = OpenCVMp4Writer(path, width, height, gray, self.fps)
                self.writers[fmt] = writer
        except BaseException:
            for writer in self.writers.values():
                writer.abort()
            self.writers = {}
            raise
        self.shape = frame.shape

    def finish(self, ended_by: str, error: str | None = None) -> list[str]:
        """Finalise every file (temporary name -> final name), then write the sidecar."""
        if self.finished:
            return self.paths
        self.finished = True
        files: dict[str, Any] = {}
        failures: list[BaseException] = []
        for fmt, writer in self.writers.items():
            try:
                files[fmt] = writer.finish()
            except Exception as e:  # finish the other formats before reporting
                failures.append(e)
        if files:
            self.paths = [os.path.join(self.folder, info["file"]) for info in files.values()]
            sidecar = {
                **self.facts,
                "name": self.name,
                "length": self.length,
                "return": self.total_reward,
                "episodes": self.episodes,
                "frames": self.frames,
                "fps": self.fps,
                "ended_by": ended_by,
                "error": error,
                "files": files,
                "finished_unix": time.time(),
            }
            path = os.path.join(self.folder, f"{self.name}.json")
            with open(path + ".part", "w") as f:
                json.dump(sidecar, f, indent=2, default=_json_default)
            os.replace(path + ".part", path)
        if failures:
            raise failures[0]
        return self.paths


def _json_default(value: Any) -> Any:
    """NumPy scalars (a seed, an fps from metadata) as numbers; anything else as repr."""
    return value.item() if isinstance(value, np.generic) else repr(value)


class _PrefixClaim:
    """A file-name prefix in a folder, reserved among live recorders in every process.

    The first recorder of a (folder, prefix) keeps the prefix; the others get
    ``prefix-1``, ``prefix-2``, ... A claim is an OS lock on a file in the temp folder
    (so the video folder holds only videos). The OS drops the lock when its process
    dies, even by SIGKILL, so a crashed run never keeps a name; marker files made with
    ``O_EXCL`` would outlive it. The holder removes its lock file on release.
    """

    def __init__(self, folder: str, prefix: str):
        lock_dir = os.path.join(
            tempfile.gettempdir(), f"gymkit-video-locks-{getattr(os, 'getuid', lambda: 0)()}"
        )
        os.makedirs(lock_dir, exist_ok=True)
        folder = os.path.realpath(folder)
        for k in itertools.count():
            self.prefix = prefix if k == 0 else f"{prefix}-{k}"
            key = hashlib.sha256(f"{folder}\0{self.prefix}".encode()).hexdigest()
            self._path = os.path.join(lock_dir, f"{key}.lock")
            self._fd = _lock_file(self._path)
            if self._fd is not None:
                return

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.remove(self._path)  # while still locked, so no one holds a stale file
            except OSError:
                pass  # Windows cannot remove an open file; the next holder reuses it
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def _lock_file(path: str) -> int | None:
    """Lock the file at ``path`` without waiting: its descriptor, or None if held."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.name == "nt":
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # its holder released and removed it after our open: open it anew
