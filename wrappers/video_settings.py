"""`RecordVideo`'s settings, each checked in one place with an error that names it.

Every function takes the argument as given and returns it normalised, or raises a
``TypeError``/``ValueError`` naming ``RecordVideo``, the argument and what was expected.
"""

from __future__ import annotations

import errno
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import DependencyNotInstalled

from gymkit.common.checks import one_of
from gymkit.wrappers.observation_image import LAYOUTS, STYLES, check_overlay, resolve_layout
from gymkit.wrappers.video_writers import find_h264_ffmpeg

__all__ = [
    "FORMATS",
    "FRAME_SOURCES",
    "MP4_ENCODERS",
    "check_frame_source",
    "check_trigger",
    "capped_cubic_video_schedule",
    "check_formats",
    "check_fps",
    "check_frame_size",
    "check_name_prefix",
    "h264_ffmpeg",
    "check_video_folder",
]

_WHO = "RecordVideo"
FORMATS = ("mp4", "gif")
FRAME_SOURCES = ("render", "observation", "agent_view")
MP4_ENCODERS = ("auto", "ffmpeg", "opencv")
# Modes whose render() gives no single image array to encode.
UNRECORDABLE_RENDER_MODES = (None, "human", "ansi", "rgb_array_list", "depth_array_list")


def check_frame_source(env: gym.Env, frame_source: str, layout: str, style: str) -> str | None:
    """Check the frame source against the env; return how to read the observation."""
    one_of(_WHO, "frame_source", frame_source, FRAME_SOURCES)
    one_of(_WHO, "observation_layout", layout, LAYOUTS)
    one_of(_WHO, "observation_style", style, STYLES)
    if frame_source != "observation" and env.render_mode in UNRECORDABLE_RENDER_MODES:
        raise ValueError(
            f"{_WHO}: frame_source={frame_source!r} needs an env whose render() returns an "
            f"image, e.g. gym.make(..., render_mode='rgb_array'); got "
            f"render_mode={env.render_mode!r}"
        )
    if frame_source == "render":
        return None
    space = env.observation_space
    if not (isinstance(space, spaces.Box) and space.dtype == np.uint8):
        raise TypeError(
            f"{_WHO}: frame_source={frame_source!r} needs a uint8 Box image "
            f"observation space, got {space}"
        )
    kind = resolve_layout(space.shape, layout, _WHO, "the observation space")
    check_overlay(style, kind, space.shape, _WHO)
    return kind


def check_trigger(trigger: Any, name: str) -> int | Callable[[int], bool] | None:
    """A trigger: ``None``, a function of the index, or an int N (every N-th)."""
    if trigger is None or callable(trigger):
        return trigger
    if isinstance(trigger, Integral) and not isinstance(trigger, bool):
        if trigger < 1:
            raise ValueError(f"{_WHO}: `{name}` as an int must be >= 1, got {trigger}")
        return int(trigger)
    raise TypeError(
        f"{_WHO}: `{name}` must be an int N (every N-th) or a function of the index "
        f"returning bool, got {trigger!r}"
    )


def capped_cubic_video_schedule(episode_id: int) -> bool:
    """Gymnasium's default trigger: episodes 0, 1, 8, 27, ... up to 1000, then every 1000th.

    Gymnasium's own (``gymnasium.utils.save_video``) cannot be imported without moviepy,
    which gymkit does not need, hence these four lines.
    """
    if episode_id < 1000:
        return round(episode_id ** (1.0 / 3)) ** 3 == episode_id
    return episode_id % 1000 == 0


def check_formats(formats: Any) -> tuple[str, ...]:
    """The formats as a tuple of distinct entries of `FORMATS`."""
    if isinstance(formats, str):
        formats = (formats,)
    if not isinstance(formats, Sequence) or not formats:
        raise TypeError(
            f"{_WHO}: `formats` must be 'mp4', 'gif' or a tuple of them, got {formats!r}"
        )
    formats = tuple(formats)
    if any(fmt not in FORMATS for fmt in formats) or len(set(formats)) != len(formats):
        raise ValueError(
            f"{_WHO}: `formats` must hold distinct entries of {FORMATS}, got {formats!r}"
        )
    return formats


def check_fps(fps: Any, metadata: dict[str, Any]) -> float:
    """The frame rate: ``fps``, else the env's ``render_fps``, else 30; in (0, 1000]."""
    name = "fps"
    if fps is None:
        fps = metadata.get("render_fps") or 30
        name = "fps (from env.metadata['render_fps'])"
    if isinstance(fps, bool) or not isinstance(fps, Real):
        raise TypeError(f"{_WHO}: `{name}` must be a number, got {fps!r}")
    if not (math.isfinite(fps) and 0 < fps <= 1000):
        raise ValueError(f"{_WHO}: `{name}` must be in (0, 1000], got {fps!r}")
    return fps


def check_frame_size(frame_size: Any) -> tuple[int, int] | None:
    """``None`` or a ``(width, height)`` pair of ints in [1, 8192]."""
    if frame_size is None:
        return None
    if not (
        isinstance(frame_size, (tuple, list))
        and len(frame_size) == 2
        and all(isinstance(s, Integral) and not isinstance(s, bool) for s in frame_size)
    ):
        raise TypeError(
            f"{_WHO}: `frame_size` must be a (width, height) pair of ints, got {frame_size!r}"
        )
    if not all(1 <= s <= 8192 for s in frame_size):
        raise ValueError(
            f"{_WHO}: `frame_size` sides must be in [1, 8192], got {tuple(frame_size)}"
        )
    return int(frame_size[0]), int(frame_size[1])


def check_name_prefix(name_prefix: Any) -> str:
    """A file-name start: non-empty, no path separator, no leading dot."""
    if not isinstance(name_prefix, str):
        raise TypeError(f"{_WHO}: `name_prefix` must be a str, got {name_prefix!r}")
    if (
        not name_prefix
        or name_prefix.startswith(".")
        or any(sep in name_prefix for sep in ("/", "\\", os.sep, "\0"))
    ):
        raise ValueError(
            f"{_WHO}: `name_prefix` must be a non-empty file name start without path "
            f"separators or a leading dot, got {name_prefix!r}"
        )
    return name_prefix


_warned: set[str] = set()  # keys of the one-time warnings given in this process


def h264_ffmpeg(mp4_encoder: str) -> str | None:
    """Return the ffmpeg for H.264 MP4s, or None for OpenCV's ``mp4v``."""
    if mp4_encoder == "opencv":
        return None
    exe, reason = find_h264_ffmpeg()
    if exe is None and mp4_encoder == "ffmpeg":
        raise DependencyNotInstalled(
            f"{_WHO}: mp4_encoder='ffmpeg' needs an H.264 ffmpeg, but {reason}; "
            "run `pip install imageio-ffmpeg`"
        )
    if exe is None and "mp4v" not in _warned:
        _warned.add("mp4v")
        warnings.warn(
            f"{_WHO}: {reason}, so MP4 videos fall back to OpenCV's 'mp4v' "
            "(MPEG-4 Part 2) codec, which browsers, Jupyter notebooks and GitHub "
            "READMEs do not play: they need H.264. Run `pip install imageio-ffmpeg` "
            "(a gymkit dependency) to get H.264 MP4s.",
            UserWarning,
            stacklevel=3,  # the caller of RecordVideo(...)
        )
    return exe


def check_video_folder(video_folder: Any) -> str:
    """Create the folder if missing and check it is writable; return its absolute path."""
    if not isinstance(video_folder, (str, os.PathLike)):
        raise TypeError(f"{_WHO}: `video_folder` must be a path, got {video_folder!r}")
    folder = os.path.abspath(os.fspath(video_folder))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", suffix=".part", dir=folder)
    except FileExistsError as e:
        raise ValueError(f"{_WHO}: `video_folder` {folder!r} exists and is not a folder") from e
    except NotADirectoryError as e:
        raise ValueError(f"{_WHO}: `video_folder` {folder!r} is not a folder: {e}") from e
    except OSError as e:
        message = (
            f"{_WHO}: `video_folder` {folder!r} must be a writable folder, but writing there "
            f"failed: {e}"
        )
        if isinstance(e, PermissionError) or e.errno == errno.EROFS:
            raise PermissionError(message) from e
        raise ValueError(message) from e
    os.close(fd)
    os.remove(probe)
    return folder
