"""OpenCV's INTER_AREA shrink, bit for bit, in a fraction of its time.

Atari preprocessing spends more time in ``cv2.resize(frame, (84, 84),
interpolation=cv2.INTER_AREA)`` than in anything but the emulator: about 60 µs per
agent step. For a non-integer shrink OpenCV runs a scalar loop that scatters each
source pixel into its output columns. `AreaResizer` does the same single-precision
arithmetic in the same order with the loop turned into a gather (the compiled
kernel in ``_area.c``, which checks and keeps the tables once per resizer), so its
output equals OpenCV's bit for bit, several times faster.

Bit-exactness is not assumed: each resizer compares itself with ``cv2.resize`` on
random and extreme images when it is built, and falls back to ``cv2.resize`` if
they differ or the kernel was not compiled (``AreaResizer.backend`` says which
runs). The tests compare both on every frame of many Atari episodes and on random
images of many shapes.

Where OpenCV takes another road, so does `AreaResizer`: integer factors, equal
sizes included (OpenCV's ``resizeAreaFast``), enlarging (INTER_AREA then means
bilinear) and more than 4 channels go to ``cv2.resize``. Images must be uint8.
"""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np

try:
    from gymkit.wrappers import _area
except ImportError:  # built without a C compiler: OpenCV does the work
    _area = None

__all__ = ["AreaResizer", "area_table"]

# Self-check verdicts per shapes and OpenCV's switches (which can change its arithmetic):
# a process checks each once.
_checked: dict[tuple, str] = {}


def _opencv_switches() -> tuple[bool, ...]:
    return (cv2.useOptimized(), cv2.ipp.useIPP(), cv2.ipp.useIPP_NotExact())


def area_table(src: int, dst: int) -> list[tuple[int, int, float]]:
    """OpenCV's INTER_AREA table along one axis: (output index, source index, weight).

    A transcription of ``computeResizeAreaTab`` in OpenCV's ``resize.cpp``: the
    output pixel ``d`` covers source ``[d * scale, (d + 1) * scale)``; each source
    pixel it touches weighs the covered fraction over the cell's width, rounded to
    float32. Entries come in OpenCV's order, which the arithmetic must follow.

    Example:
        >>> [(d, s, round(float(w), 3)) for d, s, w in area_table(5, 2)]
        [(0, 0, 0.4), (0, 1, 0.4), (0, 2, 0.2), (1, 2, 0.2), (1, 3, 0.4), (1, 4, 0.4)]
    """
    scale = 1.0 / (dst / src)  # OpenCV: scale_x = 1. / inv_scale_x, inv = dsize / ssize
    table = []
    for d in range(dst):
        fs1 = d * scale
        fs2 = fs1 + scale
        cell = min(scale, src - fs1)
        s2 = min(math.floor(fs2), src - 1)
        s1 = min(math.ceil(fs1), s2)
        if s1 - fs1 > 1e-3:
            table.append((d, s1 - 1, np.float32((s1 - fs1) / cell)))
        for s in range(s1, s2):
            table.append((d, s, np.float32(1.0 / cell)))
        if fs2 - s2 > 1e-3:
            table.append((d, s2, np.float32(min(fs2 - s2, 1.0, cell) / cell)))
    return table


def _taps(src: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
    """The table as (first source index, weights) per output pixel, padded to equal length.

    The taps of one output pixel are consecutive source pixels. Padding has weight 0
    and goes after a pixel's taps, or before them at the image's far edge, so every
    tap stays inside the image: ``x + 0 * p`` and ``0 * p + x`` are exactly ``x``, so
    the sums do not change.
    """
    per_pixel: list[list[tuple[int, float]]] = [[] for _ in range(dst)]
    for d, s, w in area_table(src, dst):
        per_pixel[d].append((s, w))
    k = max(len(taps) for taps in per_pixel)
    start = np.empty(dst, np.int32)
    weight = np.zeros((dst, k), np.float32)
    for d, taps in enumerate(per_pixel):
        first = taps[0][0]
        if [s for s, _ in taps] != list(range(first, first + len(taps))):
            raise AssertionError(f"INTER_AREA taps of pixel {d} are not consecutive")
        pad = 0 if first + k <= src else k - len(taps)
        start[d] = first - pad
        weight[d, pad : pad + len(taps)] = [w for _, w in taps]
    return start, weight


class AreaResizer:
    """Shrink ``(H, W)`` or ``(H, W, C)`` uint8 images to ``(h, w)`` exactly as INTER_AREA.

    Example:
        >>> import cv2, numpy as np
        >>> resize = AreaResizer((210, 160), (84, 84))
        >>> frame = np.random.default_rng(0).integers(0, 256, (210, 160), dtype=np.uint8)
        >>> out = resize(frame)
        >>> out.shape, bool((out == cv2.resize(frame, (84, 84),
        ...                                    interpolation=cv2.INTER_AREA)).all())
        ((84, 84), True)

    It holds only its tables (a few KB), and threads may share it. Pickling keeps only
    the shapes: an unpickled resizer decides and checks itself again where it lands.

    Args:
        src_shape: the input image shape, ``(H, W)`` or ``(H, W, C)``.
        size: the output ``(height, width)``.

    Attributes:
        backend: ``"gymkit"`` (the compiled kernel) or ``"opencv"`` (``cv2.resize``).
        reason: why OpenCV runs, or ``""``.
        portable: run the compiled kernel's portable loops even where its SIMD ones
            apply (both give the same bits; tests compare them).
    """

    def __init__(self, src_shape: tuple[int, ...], size: tuple[int, int]):
        self.src_shape = tuple(int(n) for n in src_shape)
        if len(self.src_shape) not in (2, 3) or min(self.src_shape) < 1:
            raise ValueError(
                f"AreaResizer: `src_shape` must be (H, W) or (H, W, C) of positive sizes, "
                f"got {src_shape!r}"
            )
        if len(size) != 2 or min(int(n) for n in size) < 1:
            raise ValueError(f"AreaResizer: `size` must be (height, width) >= 1, got {size!r}")
        h, w = (int(n) for n in size)
        H, W = self.src_shape[:2]
        channels = self.src_shape[2] if len(self.src_shape) == 3 else 1
        self.shape = (h, w, *self.src_shape[2:])
        self._dsize = (w, h)
        self.backend = "opencv"
        self.portable = False
        self.reason = self._unsupported(H, W, h, w, channels)
        if self.reason:
            return
        xstart, xweight = _taps(W, w)
        ystart, yweight = _taps(H, h)
        # Channels are interleaved: column j of channel c reads source column s * C + c.
        xstart = (xstart[:, None] * channels + np.arange(channels, dtype=np.int32)).ravel()
        xweight = np.repeat(xweight, channels, axis=0)
        try:
            self._plan = _area.Plan(H, W * channels, xstart, xweight, ystart, yweight, channels)
        except (AttributeError, TypeError) as err:  # a stale build from an older gymkit
            self.reason = f"the compiled kernel does not match this gymkit ({err})"
            warnings.warn(
                f"AreaResizer: {self.reason}; OpenCV resizes instead. Rebuild it from the "
                "checkout with: pip install -e .",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        self.backend = "gymkit"
        key = (self.src_shape, self.shape, _opencv_switches())
        if key not in _checked:
            _checked[key] = self._self_check()
        self.reason = _checked[key]
        if self.reason:
            self.backend = "opencv"

    @staticmethod
    def _unsupported(H: int, W: int, h: int, w: int, channels: int) -> str:
        if _area is None:
            return "the compiled kernel is not installed"
        if h > H or w > W:
            return "enlarging (INTER_AREA is bilinear there)"
        if H % h == 0 and W % w == 0:
            return "integer factors (OpenCV's resizeAreaFast)"
        if channels > 4:
            return "more than 4 channels (OpenCV's INTER_AREA refuses them)"
        return ""

    def _self_check(self) -> str:
        """Compare with ``cv2.resize`` on random and extreme images; '' when all agree."""
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 256, self.src_shape, dtype=np.uint8) for _ in range(3)]
        images += [np.full(self.src_shape, v, np.uint8) for v in (0, 1, 127, 128, 255)]
        images.append((rng.random(self.src_shape) < 0.5).astype(np.uint8) * 255)
        for image in images:
            ours = self(image)
            theirs = cv2.resize(image, self._dsize, interpolation=cv2.INTER_AREA)
            if not np.array_equal(ours, theirs.reshape(self.shape)):
                return "differs from this OpenCV build"
        return ""

    def __reduce__(self):
        return AreaResizer, (self.src_shape, self.shape[:2])

    def __call__(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Return the shrunk image (written into `out` when given)."""
        if image.shape != self.src_shape or image.dtype != np.uint8:
            raise ValueError(
                f"AreaResizer: `image` must be uint8 of shape {self.src_shape}, got "
                f"{image.dtype} {image.shape}"
            )
        if out is not None and (out.shape != self.shape or out.dtype != np.uint8):
            raise ValueError(
                f"AreaResizer: `out` must be uint8 of shape {self.shape}, got "
                f"{out.dtype} {out.shape}"
            )
        if self.backend == "opencv":
            result = cv2.resize(image, self._dsize, interpolation=cv2.INTER_AREA)
            result = result.reshape(self.shape)  # OpenCV drops a single channel axis
        else:
            if not image.flags.c_contiguous:
                image = np.ascontiguousarray(image)
            direct = out is not None and out.flags.c_contiguous  # the kernel writes into it
            result = out if direct else np.empty(self.shape, np.uint8)
            self._plan.resize(image, result, self.portable)
        if out is None or result is out:
            return result
        out[...] = result
        return out

    def __repr__(self) -> str:
        why = f", {self.reason}" if self.reason else ""
        return f"AreaResizer({self.src_shape} -> {self.shape}, backend={self.backend!r}{why})"
