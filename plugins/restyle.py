"""`motionkit restyle CONTENT -m style.mkm`: re-styling (the paper's §4.2). Style in motion is high-frequency
detail on low-frequency content, so the content's downsampled motion replaces the style model's own coarse
motion and the style model's later generators (G_2..S) add the detail they learnt from the style clip."""
from __future__ import annotations

import click

from motionkit import hookimpl

from ._shared import default_output, emit, load_model, operation_options, read_source, rng


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @click.argument("content")
    @click.option("--stage", type=int, default=1, show_default=True,
                  help="First generator that sees the content (0-based; higher keeps more of the content).")
    @operation_options
    def restyle(content, model_path, stage, count, seed, foot_fix, output, to):
        """Give CONTENT the style of the model's clip (same skeleton)."""
        from motionkit import edit
        from motionkit.errors import MotionkitError

        path, model = load_model(model_path)
        motion = read_source(content, model)
        if not 1 <= stage < model.n_stages:
            raise MotionkitError(f"--stage {stage}: the model has stages 1 to {model.n_stages - 1}")
        out = edit.restyle(model, motion, stage=stage, n=count, rng=rng(seed), foot_fix=foot_fix,
                           name=f"{motion.name or 'motion'}_restyle",
                           metadata={"operation": "restyle", "model": path, "seed": seed, "stage": stage})
        emit(out, output or default_output(path, "restyle", count), to, inputs=(path, content))
