"""Pictures of what an agent sees: observations and frame stacks drawn as images.

- `observation_to_image`: an image observation or a frame stack as one picture
  (tiles, or the book's colour overlay).
- The picture helpers `RecordVideo` composes its frames with: `video_frame` (check a
  rendered frame), `agent_view` (frame and observation side by side), `with_text_bar`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import cv2
import numpy as np

from gymkit.common.checks import one_of

__all__ = [
    "observation_to_image",
    "LAYOUTS",
    "STYLES",
    "resolve_layout",
    "check_overlay",
    "draw_observation",
    "video_frame",
    "agent_view",
    "with_text_bar",
    "format_action",
]

LAYOUTS = ("auto", "image", "stack_first", "stack_last")
STYLES = ("tiles", "overlay")

_TILE_GAP = 2  # pixels between frame-stack tiles
_PANEL_GAP = 4  # pixels between the rendered frame and the observation panel
_GAP_VALUE = 128  # mid-gray: visible against both black (Atari) and white (CartPole)
_TEXT_BAR_HEIGHT = 20


def observation_to_image(
    observation: np.ndarray,
    layout: Literal["auto", "image", "stack_first", "stack_last"] = "auto",
    style: Literal["tiles", "overlay"] = "tiles",
) -> np.ndarray:
    """Draw an image observation or a frame stack as one ``uint8`` picture.

    A single image (``(H, W)``, ``(H, W, 1)`` gray or ``(H, W, 3)`` RGB) is returned
    as a 2-D gray or ``(H, W, 3)`` RGB array. A frame stack (``(N, H, W)`` channel-first,
    ``(H, W, N)`` channel-last, or ``(N, H, W, C)`` of colour frames) is drawn either as
    tiles, oldest first, left to right and top to bottom in a grid of
    ``ceil(sqrt(N))`` columns, 2 gray pixels apart; or, for gray stacks, as the colour
    overlay of the book's ``plot_observation``: the three frames before the newest as
    red, green and blue, and the newest frame's brightening over their mean added to
    red and blue (pink), all scaled by 255/150 (for a 4-frame stack this is exactly the
    book's picture).

    ``layout="auto"`` reads a 2-D array, or a 3-D one whose last axis is 1 or 3, as an
    image; any other 3-D array as a stack along its shorter end axis (``(4, 84, 84)``
    channel-first, ``(84, 84, 4)`` channel-last); a 4-D array as ``(N, H, W, C)``. Pass
    the layout for a 3-frame channel-last stack, which ``"auto"`` reads as RGB.

    Example:
        >>> import numpy as np
        >>> stack = np.zeros((4, 84, 84), dtype=np.uint8)  # FrameStackObservation(gray, 4)
        >>> observation_to_image(stack).shape  # 2x2 tiles with 2-pixel gaps
        (170, 170)
        >>> observation_to_image(stack, style="overlay").shape
        (84, 84, 3)
        >>> observation_to_image(np.zeros((84, 84, 4), dtype=np.uint8)).shape
        (170, 170)

    Args:
        observation: a ``uint8`` array.
        layout: ``"auto"``, ``"image"``, ``"stack_first"`` or ``"stack_last"``.
        style: ``"tiles"`` or ``"overlay"`` (frame stacks of gray frames only).

    Returns:
        A ``uint8`` array of shape ``(H, W)`` (gray) or ``(H, W, 3)`` (RGB).
    """
    who = "observation_to_image"
    obs = np.asarray(observation)
    if obs.dtype != np.uint8:
        raise TypeError(f"{who}: `observation` must be uint8, got {obs.dtype}")
    one_of(who, "observation_layout", layout, LAYOUTS)
    one_of(who, "observation_style", style, STYLES)
    kind = resolve_layout(obs.shape, layout, who, "observation")
    check_overlay(style, kind, obs.shape, who)
    return draw_observation(obs, kind, style)


def resolve_layout(shape: tuple[int, ...], layout: str, who: str, what: str) -> str:
    """Return how to read an array of ``shape``: "image", "stack_first" or "stack_last"."""
    ndim = len(shape)
    is_image = ndim == 2 or (ndim == 3 and shape[-1] in (1, 3))
    kind = layout
    if layout == "auto":
        if is_image:
            kind = "image"
        elif ndim == 3:
            kind = "stack_first" if shape[0] <= shape[-1] else "stack_last"
        else:
            kind = "stack_first"  # (N, H, W, C); any other rank fails the check below
    fits = {
        "image": is_image,
        "stack_first": ndim == 3 or (ndim == 4 and shape[-1] in (1, 3)),
        "stack_last": ndim == 3,
    }[kind]
    if not fits or 0 in shape:
        raise ValueError(
            f"{who}: {what} of shape {shape} is not an image (H, W), (H, W, 1), (H, W, 3) or "
            f"a frame stack (N, H, W), (H, W, N), (N, H, W, C) for "
            f"observation_layout={layout!r}"
        )
    return kind


def check_overlay(style: str, kind: str, shape: tuple[int, ...], who: str) -> None:
    """Refuse the colour overlay for a stack of colour frames (it needs gray ones)."""
    if style == "overlay" and kind != "image" and len(shape) == 4 and shape[-1] == 3:
        raise ValueError(
            f"{who}: observation_style='overlay' needs a stack of gray frames, got a stack of "
            f"colour frames of shape {shape}; use 'tiles'"
        )


def draw_observation(obs: np.ndarray, kind: str, style: str) -> np.ndarray:
    """Draw an observation already read as ``kind`` (see `resolve_layout`) in ``style``."""
    if kind == "image":
        return obs[..., 0] if obs.ndim == 3 and obs.shape[-1] == 1 else obs
    frames = obs if kind == "stack_first" else np.moveaxis(obs, -1, 0)
    if frames.ndim == 4 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    return _book_overlay(frames) if style == "overlay" else _tiles(frames)


def _tiles(frames: np.ndarray) -> np.ndarray:
    n, h, w = frames.shape[:3]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full(
        (rows * h + (rows - 1) * _TILE_GAP, cols * w + (cols - 1) * _TILE_GAP, *frames.shape[3:]),
        _GAP_VALUE,
        dtype=np.uint8,
    )
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = r * (h + _TILE_GAP), c * (w + _TILE_GAP)
        out[top : top + h, left : left + w] = frames[i]
    return out


def _book_overlay(frames: np.ndarray) -> np.ndarray:
    stack = frames.astype(np.float32)
    current, previous = stack[-1], list(stack[:-1][-3:])
    if not previous:
        return frames[-1]
    while len(previous) < 3:
        previous.insert(0, previous[0])
    img = np.stack(previous, axis=-1)
    delta = np.maximum(current - img.mean(axis=-1), 0.0)
    img[..., 0] += delta
    img[..., 2] += delta
    return np.clip(img * (255.0 / 150.0), 0, 255).astype(np.uint8)


def video_frame(frame: Any, who: str = "RecordVideo") -> np.ndarray:
    """Check a rendered frame and bring it to 2-D gray or (H, W, 3) RGB uint8."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(
            f"{who}: expected env.render() to return a numpy array (render_mode='rgb_array'), "
            f"got {type(frame).__name__}"
        )
    if frame.dtype != np.uint8:
        raise TypeError(f"{who}: expected uint8 frames, got dtype {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] in (1, 4):
        frame = frame[..., 0] if frame.shape[2] == 1 else frame[..., :3]
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)) or 0 in frame.shape:
        raise ValueError(
            f"{who}: expected a frame of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
            f"got {frame.shape}"
        )
    return frame


def _as_rgb(picture: np.ndarray) -> np.ndarray:
    return np.repeat(picture[..., None], 3, axis=2) if picture.ndim == 2 else picture


def agent_view(frame: np.ndarray, panel: np.ndarray) -> np.ndarray:
    """The rendered frame, a gap, then the observation panel scaled up by a whole factor."""
    frame, panel = _as_rgb(frame), _as_rgb(panel)
    scale = max(1, frame.shape[0] // panel.shape[0])
    if scale > 1:
        panel = np.repeat(np.repeat(panel, scale, axis=0), scale, axis=1)
    (fh, fw), (ph, pw) = frame.shape[:2], panel.shape[:2]
    out = np.zeros((max(fh, ph), fw + _PANEL_GAP + pw, 3), dtype=np.uint8)
    out[:, fw : fw + _PANEL_GAP] = _GAP_VALUE
    out[:fh, :fw] = frame
    out[:ph, fw + _PANEL_GAP :] = panel
    return out


def with_text_bar(picture: np.ndarray, text: str) -> np.ndarray:
    """The picture with a black bar of white ``text`` under it."""
    bar = np.zeros((_TEXT_BAR_HEIGHT, *picture.shape[1:]), dtype=np.uint8)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.4
    width = cv2.getTextSize(text, font, scale, 1)[0][0]
    if width > picture.shape[1] - 4:
        scale = max(0.25, scale * (picture.shape[1] - 4) / width)
    color = 255 if picture.ndim == 2 else (255, 255, 255)
    cv2.putText(bar, text, (2, 14), font, scale, color, 1, cv2.LINE_AA)
    return np.concatenate([picture, bar], axis=0)


def format_action(action: Any) -> str:
    """A short text for an action, for the text bar (``-`` before the first action)."""
    if action is None:
        return "-"
    if isinstance(action, np.ndarray):
        text = np.array2string(action, precision=2, separator=",", threshold=8)
    elif isinstance(action, (float, np.floating)):
        text = f"{action:.2f}"
    else:
        text = str(action)
    return text if len(text) <= 40 else text[:37] + "..."
