"""`motionkit convert IN -o OUT`: between formats, with optional resampling, unit scaling and a frame range."""
from __future__ import annotations

import click

from motionkit import hookimpl

from ._shared import FPS, SCALE, emit, output_option, parse_range, to_option, up_option

METRIC = ("glb", "gltf", "fbx", "usda", "usdc")  # formats written in metres: --scale is metres per source unit


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @click.argument("input", type=str)
    @click.argument("output_arg", metavar="[OUTPUT]", required=False)
    @output_option("Output file (.bvh .glb .gltf .npz .fbx .usda .usdc; %03d for one file per motion) or - for stdout "
                   "(the default).")
    @to_option
    @click.option("--fps", type=FPS, default=None, help="Resample to this frame rate (slerp).")
    @click.option("--scale", type=SCALE, default=None,
                  help="Metres per source unit when writing glTF, FBX or USD (default: guessed from the body's height); "
                       "for other formats, multiply all lengths by this.")
    @click.option("--frames", "frames", default=None, help="Keep only frames START:STOP (source frame numbers).")
    @up_option
    def convert(input, output_arg, output, to, fps, scale, frames, up):
        """Convert INPUT (a file or -) to OUTPUT (-o, or a second argument; - is stdout).

        The input format is sniffed from its first bytes; the output's comes from its extension or --to."""
        from motionkit.errors import MotionkitError
        from motionkit.files import output_format, read_motions

        if output_arg is not None and output is not None:
            raise MotionkitError("give the output once: either as a second argument or with -o")
        output = output_arg or output or "-"

        fmt = output_format(output, to)  # fail on a bad output before reading anything
        motions = read_motions(input, up=up)
        out = []
        for m in motions:
            if frames:
                m = m.slice(*parse_range(frames, m.frames))
            if fps:
                m = m.resampled(fps)
            if scale and fmt.name not in METRIC:
                m = m.scaled(scale)
            out.append(m)
        options = {"scale": scale} if scale and fmt.name in METRIC else {}
        emit(out, output, fmt.name, inputs=(input,), options=options)
