"""Options and helpers shared by the operation commands: frame ranges, reading inputs, writing outputs."""
from __future__ import annotations

import click

from motionkit.errors import MotionkitError


def parse_range(text: str, frames: int | None = None, what: str = "--frames") -> tuple[int, int]:
    """'120:180' → (120, 180); either end may be left out; negative ends count from the end."""
    start_s, sep, stop_s = text.partition(":")
    if not sep:
        raise MotionkitError(f"{what} {text!r}: expected START:STOP, e.g. 120:180")
    try:
        start = int(start_s) if start_s.strip() else 0
        stop = int(stop_s) if stop_s.strip() else (frames if frames is not None else -1)
    except ValueError:
        raise MotionkitError(f"{what} {text!r}: START and STOP must be whole frame numbers") from None
    if frames is not None:
        start = start + frames if start < 0 else start
        stop = stop + frames if stop < 0 else stop
        if not 0 <= start < stop <= frames:
            raise MotionkitError(f"{what} {text}: outside the motion's {frames} frames (or empty)")
    return start, stop


def output_option(f):
    return click.option("-o", "--output", default="-", show_default=True,
                        help="Output file (.bvh .glb .gltf .npz; %03d for one file per motion) or - for stdout.")(f)


def to_option(f):
    return click.option("--to", "to", default=None, help="Output format when the extension does not say (e.g. on -).")(f)
