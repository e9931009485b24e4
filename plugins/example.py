"""`motionkit example -o dancer.bvh`: write the bundled, procedurally animated example clip."""
from __future__ import annotations

import click

from motionkit import hookimpl

from .common import output_option, to_option


@hookimpl
def register_commands(cli):
    @cli.command()
    @output_option
    @to_option
    @click.option("--seconds", type=float, default=12.0, show_default=True)
    @click.option("--fps", type=float, default=30.0, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True, help="Chooses the order of the arm moves.")
    def example(output, to, seconds, fps, seed):
        """Write the bundled example clip: a procedurally animated humanoid dancer (motionkit's own data)."""
        from motionkit.errors import MotionkitError
        from motionkit.example import dancer
        from motionkit.io import write_motions

        if not 1 <= seconds * fps:
            raise MotionkitError("--seconds × --fps must give at least one frame")
        for path in write_motions([dancer(seconds, fps, seed)], output, to):
            if path != "-":
                click.echo(f"wrote {path}", err=True)
