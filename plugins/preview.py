"""`motionkit preview FILE... -o out.gif|.mp4|.png`: look at motions without a DCC (drawn by motionkit.render)."""
from __future__ import annotations

import os

import click

from motionkit import hookimpl

from ._shared import FPS, parse_range


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @click.argument("files", nargs=-1, required=True)
    @click.option("-o", "--output", required=True, help="out.gif (always), out.mp4 (with ffmpeg) or out.png (a contact sheet).")
    @click.option("--view", type=click.Choice(["front", "side", "top", "orbit"]), default="front", show_default=True)
    @click.option("--frames", default=None, help="START:STOP frames of the (first) motion.")
    @click.option("--fps", type=FPS, default=None, help="Frames per second of the preview (default 15, or the clip's if lower).")
    @click.option("--size", default=None, help="WIDTHxHEIGHT in pixels (default: 320x360 per panel; 150x190 per sheet cell).")
    @click.option("--overlay/--side-by-side", default=None, help="Draw all motions in one panel (default beyond 4).")
    def preview(files, output, view, frames, fps, size, overlay):
        """Draw the motions in FILES (or -) as stick figures into a GIF, MP4 or PNG contact sheet."""
        from motionkit.errors import MotionkitError
        from motionkit.files import read_motions, refuse_overwriting_input
        from motionkit.render import render

        ext = os.path.splitext(output)[1].lower()
        if ext not in (".gif", ".mp4", ".png"):
            raise MotionkitError("the preview must be a .gif, .mp4 or .png file", output)
        dims = None
        if size:
            try:
                dims = tuple(int(v) for v in size.lower().split("x"))
                if len(dims) != 2 or not all(32 <= v <= 4096 for v in dims):
                    raise ValueError
            except ValueError:
                raise MotionkitError(f"--size {size!r}: expected WIDTHxHEIGHT, e.g. 640x360") from None
        refuse_overwriting_input(output, files)
        motions = [m for f in files for m in read_motions(f)]
        span = parse_range(frames, motions[0].frames) if frames else None
        n = render(motions, output, view=view, fps=fps, size=dims, frames=span, overlay=overlay)
        click.echo(f"wrote {output} ({n} frames)", err=True)
