"""gymkit wrappers: one concern each, composable on any image env, plus Atari presets.

Observation: `GrayscaleObservation`, `ResizeObservation`, `FrameStackObservation`,
and `AreaResizer` (OpenCV's INTER_AREA shrink, bit for bit, faster).
Action: `RepeatAction` (frame skip, max-pool, ALE fast path), `DiscretizeAction`,
`ClipAction`. Reward: `ClipReward`. Atari companions: `NoopReset`, `FireReset`,
`TerminateOnLifeLoss`, `EpisodicLife`. Presets: `make_atari`, `wrap_atari`,
`PROFILES`, `AtariProfile`. Vector: `BatchedAsyncVectorEnv`, `make_atari_vector`.
Video: `RecordVideo`, `observation_to_image`.
"""

if __name__ != "gymkit.wrappers":
    raise ImportError(
        f"this folder is the package gymkit.wrappers, imported here as {__name__!r}: install "
        "the checkout (pip install -e .) and import gymkit.wrappers"
    )


from gymkit.wrappers.area_resize import AreaResizer
from gymkit.wrappers.atari import EpisodicLife, FireReset, NoopReset, TerminateOnLifeLoss
from gymkit.wrappers.observation_image import observation_to_image
from gymkit.wrappers.presets import PROFILES, AtariProfile, make_atari, wrap_atari
from gymkit.wrappers.rendering import RecordVideo
from gymkit.wrappers.stateful_action import RepeatAction
from gymkit.wrappers.stateful_observation import FrameStackObservation
from gymkit.wrappers.transform_action import ClipAction, DiscretizeAction
from gymkit.wrappers.transform_observation import GrayscaleObservation, ResizeObservation
from gymkit.wrappers.transform_reward import ClipReward
from gymkit.wrappers.vector import BatchedAsyncVectorEnv, make_atari_vector

__all__ = [
    "GrayscaleObservation",
    "ResizeObservation",
    "FrameStackObservation",
    "AreaResizer",
    "RepeatAction",
    "DiscretizeAction",
    "ClipAction",
    "ClipReward",
    "NoopReset",
    "FireReset",
    "TerminateOnLifeLoss",
    "EpisodicLife",
    "AtariProfile",
    "PROFILES",
    "make_atari",
    "wrap_atari",
    "BatchedAsyncVectorEnv",
    "make_atari_vector",
    "RecordVideo",
    "observation_to_image",
]
