"""`motionkit example -o dancer.bvh`: write the bundled, procedurally animated example clip."""
from __future__ import annotations

import click

from motionkit import hookimpl

from ._shared import FPS, emit, output_option, to_option


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @output_option("Output file (.bvh .glb .gltf .npz) or - for stdout (the default).")
    @to_option
    @click.option("--seconds", type=float, default=12.0, show_default=True)
    @click.option("--fps", type=FPS, default=30.0, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True, help="Chooses the order of the arm moves.")
    def example(output, to, seconds, fps, seed):
        """Write the bundled example clip: a procedurally animated humanoid dancer (motionkit's own data)."""
        from motionkit.errors import MotionkitError
        from motionkit.example import dancer

        if not 1 <= seconds * fps:
            raise MotionkitError("--seconds × --fps must give at least one frame")
        emit([dancer(seconds, fps, seed)], output or "-", to)
