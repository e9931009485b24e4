"""What motionkit agrees to read and write: sizes checked before anything is allocated, and sane ranges for
frame rates and scales. Each size limit can be raised by an environment variable (named beside it).

| limit | default | variable |
|---|---|---|
| bytes read from one file or stream | 512 MiB | MOTIONKIT_MAX_BYTES |
| frames in one motion | 1 000 000 | MOTIONKIT_MAX_FRAMES |
| joints in one skeleton | 4 096 | MOTIONKIT_MAX_JOINTS |
| frames × joints in one motion | 20 000 000 | MOTIONKIT_MAX_VALUES |
| bytes of one NPZ or model member, decompressed | 1 GiB | MOTIONKIT_MAX_MEMBER |

A frame rate is between 0.01 and 10 000 frames per second; a scale (metres per unit) between 1e-6 and 1e6.
"""
from __future__ import annotations

import math
import os

from .errors import MotionkitError

_DEFAULTS = {"MOTIONKIT_MAX_BYTES": 512 * 2 ** 20, "MOTIONKIT_MAX_FRAMES": 1_000_000, "MOTIONKIT_MAX_JOINTS": 4096,
             "MOTIONKIT_MAX_VALUES": 20_000_000, "MOTIONKIT_MAX_MEMBER": 2 ** 30}
FPS_RANGE = (0.01, 10_000.0)
SCALE_RANGE = (1e-6, 1e6)


def limit(name: str) -> int:
    """The limit called ``name`` (e.g. "MOTIONKIT_MAX_FRAMES"), from the environment if set there."""
    value = os.environ.get(name)
    if value is None:
        return _DEFAULTS[name]
    try:
        return int(value)
    except ValueError:
        raise MotionkitError(f"${name} must be a whole number, found {value!r}") from None


def check_motion_size(frames, joints, source: str | None = None):
    """Refuse a motion too large to hold (before its arrays are made)."""
    if not isinstance(frames, int) or not isinstance(joints, int) or frames < 1 or joints < 1:
        raise MotionkitError(f"bad motion size ({frames} frames, {joints} joints)", source)
    for value, name, what in ((frames, "MOTIONKIT_MAX_FRAMES", "frames"), (joints, "MOTIONKIT_MAX_JOINTS", "joints"),
                              (frames * joints, "MOTIONKIT_MAX_VALUES", "frames × joints")):
        if value > limit(name):
            raise MotionkitError(f"{value} {what} is more than motionkit reads (limit {limit(name)}; "
                                 f"${name} raises it)", source)


def _number_in(value, low: float, high: float, source, what: str, unit: str = "") -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MotionkitError(f"{what} {value!r} is not a number", source) from None
    if not (math.isfinite(number) and low <= number <= high):
        raise MotionkitError(f"{what} {value!r} is outside {low:g} to {high:g}{unit}", source)
    return number


def check_fps(fps, source: str | None = None, what: str = "frame rate") -> float:
    """A finite frame rate in ``FPS_RANGE``, as a float."""
    return _number_in(fps, *FPS_RANGE, source, what, " frames per second")


def check_scale(scale, source: str | None = None, what: str = "--scale") -> float:
    """A finite positive scale in ``SCALE_RANGE``, as a float."""
    return _number_in(scale, *SCALE_RANGE, source, what)
