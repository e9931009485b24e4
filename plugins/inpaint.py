"""`motionkit inpaint SOURCE --frames 120:180`: the paper's full-body composition, option (a) (§4.2, eq. 5).
The listed intervals are removed from the source and regenerated: at the input of level 2 the generated coarse
motion fills them while the downsampled source is kept everywhere else, T = (M ⊙ T̂) ⊕ (M̃ ⊙ ↓T), and the later
generators refine the whole. Outside the intervals the source is kept exactly; the new frames blend into it
over a few frames and the root's path meets the source again on the far side."""
from __future__ import annotations

import click

from motionkit import hookimpl

from ._shared import default_output, emit, keep_option, load_model, operation_options, parse_range, read_source, rng


def _span(text: str, frames: int) -> tuple[int, int]:
    """START:STOP of the source; STOP may run past its end (the output then grows)."""
    from motionkit.errors import MotionkitError

    a, b = parse_range(text, None)
    if a < 0 or b < 0:  # counted from the end
        return parse_range(text, frames)
    if not a < b or a > frames:
        raise MotionkitError(f"--frames {text}: must start within the motion's {frames} frames and not be empty")
    return a, b


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @click.argument("source")
    @click.option("--frames", "spans", multiple=True, required=True, metavar="START:STOP",
                  help="Frames of SOURCE to regenerate (repeat for several intervals).")
    @keep_option
    @operation_options
    def inpaint(source, spans, model_path, keep, count, seed, foot_fix, output, to):
        """Regenerate the given frame intervals of SOURCE, keep the rest."""
        from motionkit import edit
        from motionkit.errors import MotionkitError

        path, model = load_model(model_path)
        motion = read_source(source, model)
        ranges = sorted(_span(s, motion.frames) for s in spans)
        if ranges[-1][1] > motion.frames:
            click.echo(f"inpaint: {source} has {motion.frames} frames; the output grows to {ranges[-1][1]} "
                       "(the frames past its end are generated)", err=True)
        for (a0, b0), (a1, b1) in zip(ranges[:-1], ranges[1:]):
            if a1 < b0:
                raise MotionkitError(f"--frames {a0}:{b0} and {a1}:{b1} overlap")
        joints = edit.body_part(model, keep) if keep else None
        out = edit.inpaint(model, motion, ranges, joints=joints, n=count, rng=rng(seed),
                           foot_fix=foot_fix, name=f"{motion.name or 'motion'}_inpaint",
                           metadata={"operation": "inpaint", "model": path, "seed": seed,
                                     "frames": [list(r) for r in ranges], "keep": keep})
        emit(out, output or default_output(path, "inpaint", count), to, inputs=(path, source))
