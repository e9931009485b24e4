"""`motionkit expand SOURCE --before 5s --after 5s`: motion expansion (the paper's §4.2). The skeleton-aware
convolutions run on any length, so generated features are joined in time to the downsampled source at level 2
and the later generators refine the whole: the source stays in the middle, new motion grows on either side."""
from __future__ import annotations

import click

from motionkit import hookimpl

from ._shared import default_output, emit, load_model, operation_options, read_source, rng


def duration(text: str, fps: float, what: str) -> int:
    """'5s' → seconds; '150' → frames."""
    from motionkit.errors import MotionkitError

    if text is None:
        return 0
    t = text.strip().lower()
    try:
        frames = round(float(t[:-1]) * fps) if t.endswith("s") else int(t)
    except ValueError:
        raise MotionkitError(f"{what} {text!r}: expected frames (150) or seconds (5s)") from None
    if frames < 0:
        raise MotionkitError(f"{what} {text!r}: must not be negative")
    return int(frames)


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @click.argument("source")
    @click.option("--before", default=None, help="Generated time before SOURCE: frames, or seconds as 5s (default 0).")
    @click.option("--after", default=None, help="Generated time after SOURCE: frames, or seconds as 5s (default: "
                                                "SOURCE's own length when neither is given, else 0).")
    @operation_options
    def expand(source, before, after, model_path, count, seed, foot_fix, output, to):
        """Grow SOURCE with generated motion before and after it."""
        from motionkit import edit
        from motionkit.errors import MotionkitError

        path, model = load_model(model_path)
        motion = read_source(source, model)
        b, a = duration(before, motion.fps, "--before"), duration(after, motion.fps, "--after")
        if before is None and after is None:  # as much again after it
            a = motion.frames
            click.echo(f"expand: {motion.frames} new frames after the source (--before/--after set them)", err=True)
        if a + b == 0:
            raise MotionkitError("nothing to expand: --before and --after are both 0")
        out = edit.expand(model, motion, b, a, n=count, rng=rng(seed), foot_fix=foot_fix,
                          name=f"{motion.name or 'motion'}_expand",
                          metadata={"operation": "expand", "model": path, "seed": seed, "before": b, "after": a})
        emit(out, output or default_output(path, "expand", count), to, inputs=(path, source))
