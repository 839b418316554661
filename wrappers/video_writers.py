"""The encoders behind `RecordVideo`: each writes one video file frame by frame.

* `FFmpegMp4Writer` - H.264 (yuv420p) MP4 through the ffmpeg that ``imageio-ffmpeg``
  ships.
* `OpenCVMp4Writer` - MPEG-4 Part 2 (``mp4v``) MP4 through OpenCV: the fallback.
* `GifWriter` - a GIF streamed frame by frame, up to a cap on its frames.

`find_h264_ffmpeg` finds an ffmpeg that can encode H.264. A writer takes 2-D gray or
``(H, W, 3)`` RGB ``uint8`` frames of one size; it writes under a temporary name,
``finish()`` renames the file to its final name and returns its facts for the sidecar,
and ``abort()`` removes the temporary file.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import tempfile
from fractions import Fraction
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from PIL import Image

__all__ = ["FFmpegMp4Writer", "OpenCVMp4Writer", "GifWriter", "find_h264_ffmpeg"]

_MP4_CRF = 20
_MP4_PRESET = "veryfast"  # the encoder shares the CPU with the env being recorded
_GIF_MIN_DELAY_CS = 2  # browsers play a 0 or 1 centisecond GIF delay as 10 cs
_GRAY_PALETTE = bytes(np.repeat(np.arange(256, dtype=np.uint8), 3))


def find_h264_ffmpeg() -> tuple[str | None, str]:
    """Return the bundled ffmpeg if it can encode H.264, else None and the reason."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None, "imageio-ffmpeg is not installed"
    try:
        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as e:
        return None, f"imageio-ffmpeg found no ffmpeg binary ({e})"
    if not _has_libx264(exe):  # IMAGEIO_FFMPEG_EXE may point at an ffmpeg without it
        return None, f"the ffmpeg at {exe} has no libx264 encoder"
    return exe, ""


@lru_cache(maxsize=8)
def _has_libx264(exe: str) -> bool:
    try:
        out = subprocess.run(
            [exe, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return "libx264" in out.stdout


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    """yuv420p stores colour per 2x2 block, so H.264 needs even sides: repeat the edge."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return np.ascontiguousarray(frame)
    pad = ((0, h % 2), (0, w % 2)) + ((0, 0),) * (frame.ndim - 2)
    return np.pad(frame, pad, mode="edge")


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class FFmpegMp4Writer:
    """H.264 (yuv420p) MP4 through a pipe of raw frames to ffmpeg, written to ``PATH.part``.

    Args:
        exe: an ffmpeg with libx264 (see `find_h264_ffmpeg`).
        path: the final file name.
        width: frame width; odd sides are padded to even.
        height: frame height.
        gray: frames are 2-D gray (else RGB).
        fps: frames per second.
    """

    def __init__(self, exe: str, path: str, width: int, height: int, gray: bool, fps: float):
        self.path, self.tmp_path = path, path + ".part"
        self.width, self.height = width + width % 2, height + height % 2
        self.frames_written = 0
        cmd = [
            exe, "-hide_banner", "-nostats", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "gray" if gray else "rgb24",
            "-video_size", f"{self.width}x{self.height}",
            "-framerate", str(Fraction(fps).limit_denominator(1001)),
            "-i", "pipe:0", "-an",
            "-c:v", "libx264", "-preset", _MP4_PRESET, "-crf", str(_MP4_CRF),
            "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", self.tmp_path,
        ]  # fmt: skip
        self._log = tempfile.TemporaryFile()
        # A session of its own: Ctrl-C reaches Python, which then closes the pipe so
        # ffmpeg finalises the file, instead of killing ffmpeg mid-file.
        detach: dict[str, Any] = (
            {"start_new_session": True}
            if os.name == "posix"
            else {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
        )
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log, **detach
        )

    def write(self, frame: np.ndarray) -> None:
        """Send one frame to ffmpeg."""
        try:
            self._proc.stdin.write(_pad_to_even(frame).data)
        except OSError as e:
            raise RuntimeError(
                f"RecordVideo: ffmpeg stopped while writing {self.tmp_path}: {self._log_text()}"
            ) from e
        self.frames_written += 1

    def finish(self) -> dict[str, Any]:
        """Close the pipe, wait for ffmpeg, rename the file; return its facts."""
        try:
            self._proc.stdin.close()
        except OSError:
            pass  # ffmpeg already exited: its return code and log tell why
        code = self._proc.wait()
        if code != 0:
            log = self._log_text()
            _remove(self.tmp_path)
            raise RuntimeError(f"RecordVideo: ffmpeg failed (exit {code}) on {self.path}: {log}")
        self._log.close()
        os.replace(self.tmp_path, self.path)
        return {
            "file": os.path.basename(self.path), "codec": "h264", "pix_fmt": "yuv420p",
            "encoder": "libx264 (imageio-ffmpeg)", "width": self.width, "height": self.height,
            "frames_written": self.frames_written,
        }  # fmt: skip

    def abort(self) -> None:
        """Kill ffmpeg and remove the temporary file."""
        self._proc.kill()
        self._proc.wait()
        self._log.close()
        _remove(self.tmp_path)

    def _log_text(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()[-2000:] or "(no message)"


class OpenCVMp4Writer:
    """MPEG-4 Part 2 (``mp4v``) MP4 through OpenCV: the fallback without imageio-ffmpeg.

    Args:
        path: the final file name.
        width: frame width; odd sides are padded to even.
        height: frame height.
        gray: frames are 2-D gray (else RGB).
        fps: frames per second.
    """

    def __init__(self, path: str, width: int, height: int, gray: bool, fps: float):
        self.path = path
        self.width, self.height = width + width % 2, height + height % 2
        self.frames_written = 0
        # OpenCV picks the container from the extension, so the temporary name is a
        # folder beside the final file rather than a '.part' suffix.
        folder, name = os.path.split(path)
        self._tmp_dir = tempfile.mkdtemp(prefix=name + ".part-", dir=folder)
        self.tmp_path = os.path.join(self._tmp_dir, "video.mp4")
        self._gray = gray
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")
        self._writer = cv2.VideoWriter(
            self.tmp_path, fourcc, fps, (self.width, self.height), not gray
        )
        if not self._writer.isOpened():
            shutil.rmtree(self._tmp_dir, ignore_errors=True)
            raise RuntimeError(f"RecordVideo: OpenCV could not open an 'mp4v' writer for {path}")

    def write(self, frame: np.ndarray) -> None:
        """Encode one frame."""
        frame = _pad_to_even(frame)
        self._writer.write(frame if self._gray else cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames_written += 1

    def finish(self) -> dict[str, Any]:
        """Close the file and rename it; return its facts."""
        self._writer.release()
        os.replace(self.tmp_path, self.path)
        shutil.rmtree(self._tmp_dir, ignore_errors=True)
        return {
            "file": os.path.basename(self.path), "codec": "mpeg4", "pix_fmt": "yuv420p",
            "encoder": "OpenCV mp4v", "width": self.width, "height": self.height,
            "frames_written": self.frames_written,
        }  # fmt: skip

    def abort(self) -> None:
        """Close and remove the temporary file."""
        self._writer.release()
        shutil.rmtree(self._tmp_dir, ignore_errors=True)


class GifWriter:
    """A GIF written frame by frame to ``PATH.part``, holding at most two frames.

    Each frame is the rectangle that changed since the previous one, with its own
    256-colour palette (exact for frames of up to 256 colours). GIF delays are whole
    centiseconds and browsers play under 2 cs as 10 cs, so above 50 fps frames are
    dropped to keep real time. At ``max_frames`` frames the GIF is finished and later
    frames are dropped.

    Args:
        path: the final file name.
        width: frame width.
        height: frame height.
        fps: frames per second.
        max_frames: the most frames the GIF gets.
    """

    def __init__(self, path: str, width: int, height: int, fps: float, max_frames: int):
        self.path, self.tmp_path = path, path + ".part"
        self.width, self.height = width, height
        self.max_frames = max_frames
        self.frames_written = 0
        self.frames_dropped = 0
        self.capped = False
        self._centiseconds = 100.0 / fps
        self._offered = 0
        self._pending: np.ndarray | None = None  # the latest frame, shown from _pending_start
        self._pending_start = 0
        self._previous: np.ndarray | None = None
        self._info: dict[str, Any] | None = None  # set once finished
        self._file = open(self.tmp_path, "wb")  # closed in finish() or abort()
        self._file.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0x70, 0, 0))
        self._file.write(b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop forever

    def write(self, frame: np.ndarray) -> None:
        """Queue one frame; the one before it is written now that its delay is known."""
        if self._info is not None:
            self.frames_dropped += 1
            return
        start = round(self._offered * self._centiseconds)
        self._offered += 1
        if self._pending is not None:
            if start - self._pending_start < _GIF_MIN_DELAY_CS:
                # Over 50 fps: keep the newer picture, shown from the older start time.
                self._pending = frame.copy()
                self.frames_dropped += 1
                return
            self._emit(self._pending, start - self._pending_start)
        self._pending, self._pending_start = frame.copy(), start
        if self.frames_written + 1 >= self.max_frames:
            self.capped = True
            self.finish()

    def finish(self) -> dict[str, Any]:
        """Write the last frame and the trailer, rename the file; return its facts."""
        if self._info is None:
            if self._pending is not None:
                self._emit(self._pending, max(_GIF_MIN_DELAY_CS, round(self._centiseconds)))
                self._pending = None
            self._file.write(b";")
            self._file.close()
            os.replace(self.tmp_path, self.path)
            self._info = {
                "file": os.path.basename(self.path), "codec": "gif", "encoder": "Pillow",
                "width": self.width, "height": self.height, "frames_written": self.frames_written,
                "capped": self.capped,
            }  # fmt: skip
        return {**self._info, "frames_dropped": self.frames_dropped}

    def abort(self) -> None:
        """Close and remove the temporary file, unless the GIF is finished."""
        if self._info is None:
            self._file.close()
            _remove(self.tmp_path)

    def _emit(self, frame: np.ndarray, delay_cs: int) -> None:
        x0, y0, x1, y1 = 0, 0, self.width, self.height
        if self._previous is not None:
            # Rows as flat byte runs: reducing along contiguous memory is ~30x faster
            # than reducing over the channel axis first.
            changed = (frame != self._previous).reshape(self.height, -1)
            rows = np.flatnonzero(changed.any(axis=1))
            if rows.size:
                band = changed[rows[0] : rows[-1] + 1].any(axis=0)
                cols = np.flatnonzero(band.reshape(self.width, -1).any(axis=1))
                x0, y0, x1, y1 = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
            else:  # unchanged: a 1-pixel patch keeps the frame count and the timing
                x1, y1 = 1, 1
        table, field, lzw = _gif_image_block(np.ascontiguousarray(frame[y0:y1, x0:x1]))
        # Graphics control: disposal 1 (keep), so a patch paints over the previous frame.
        self._file.write(b"!\xf9\x04\x04" + struct.pack("<H", delay_cs) + b"\x00\x00")
        self._file.write(b"," + struct.pack("<HHHHB", x0, y0, x1 - x0, y1 - y0, 0x80 | field))
        self._file.write(table)
        self._file.write(lzw)
        self._previous = frame
        self.frames_written += 1


def _gif_image_block(patch: np.ndarray) -> tuple[bytes, int, bytes]:
    """Encode one frame region with Pillow; return (colour table, size field, LZW data)."""
    if patch.ndim == 2:
        image = Image.fromarray(patch)
        image.putpalette(_GRAY_PALETTE)
    else:
        image = _exact_palette_image(patch)
        if image is None:
            image = Image.fromarray(patch).quantize(256, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    image.save(buffer, format="GIF", interlace=False)
    data = buffer.getvalue()
    # Take Pillow's single-image GIF apart: header, global colour table, extensions,
    # image descriptor (with a local table or not), then the LZW data sub-blocks.
    pos, table, field = 13, b"", 0
    if data[10] & 0x80:
        field = data[10] & 7
        table = data[pos : pos + (3 << (field + 1))]
        pos += len(table)
    while data[pos] == 0x21:  # an extension: introducer, label, sub-blocks
        pos = _skip_sub_blocks(data, pos + 2)
    if data[pos] != 0x2C:
        raise RuntimeError("RecordVideo: unexpected GIF block from Pillow")
    packed = data[pos + 9]
    pos += 10
    if packed & 0x80:
        field = packed & 7
        table = data[pos : pos + (3 << (field + 1))]
        pos += len(table)
    return table, field, data[pos : _skip_sub_blocks(data, pos + 1)]  # from the LZW code size


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """Return the position after the data sub-blocks at ``pos`` and their terminator."""
    while data[pos]:
        pos += data[pos] + 1
    return pos + 1


def _exact_palette_image(rgb: np.ndarray) -> Image.Image | None:
    """Return an exact palette image of an RGB patch of up to 256 colours, else None.

    Pillow's own mapping onto a given palette is approximate, so the indices are
    computed here.
    """
    colors = Image.fromarray(rgb).getcolors(256)
    if colors is None:
        return None
    palette = np.array([color for _, color in colors], dtype=np.uint32)
    keys = np.sort((palette[:, 0] << 16) | (palette[:, 1] << 8) | palette[:, 2])
    pixel_keys = (
        (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    )
    image = Image.fromarray(np.searchsorted(keys, pixel_keys).astype(np.uint8))
    table = np.stack([keys >> 16, (keys >> 8) & 255, keys & 255], axis=1)
    image.putpalette(table.astype(np.uint8).tobytes())
    return image
