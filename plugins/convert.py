"""`motionkit convert IN -o OUT`: between formats, with optional resampling, unit scaling and a frame range."""
from __future__ import annotations

import click

from motionkit import hookimpl

from .common import output_option, parse_range, to_option


@hookimpl
def register_commands(cli):
    @cli.command()
    @click.argument("input", type=str)
    @output_option
    @to_option
    @click.option("--fps", type=float, default=None, help="Resample to this frame rate (slerp).")
    @click.option("--scale", type=float, default=None,
                  help="Metres per source unit when writing glTF (default: guessed from the skeleton's height); "
                       "for other formats, multiply all lengths by this.")
    @click.option("--frames", "frames", default=None, help="Keep only frames START:STOP (source frame numbers).")
    def convert(input, output, to, fps, scale, frames):
        """Convert INPUT (a file or -) to OUTPUT; the format comes from the extension or --to."""
        from motionkit.io import output_format, read_motions, write_motions

        fmt = output_format(output, to)  # fail on a bad output before reading anything
        motions = read_motions(input)
        out = []
        for m in motions:
            if frames:
                m = m.slice(*parse_range(frames, m.frames))
            if fps:
                m = m.resampled(fps)
            if scale and fmt.name not in ("glb", "gltf"):
                m = m.scaled(scale)
            out.append(m)
        options = {"scale": scale} if scale and fmt.name in ("glb", "gltf") else {}
        for path in write_motions(out, output, fmt.name, options, inputs=(input,)):
            if path != "-":
                click.echo(f"wrote {path}", err=True)
