"""`motionkit eval REFERENCE GENERATED...`: GANimator's coverage and diversity metrics (see motionkit.metrics)."""
from __future__ import annotations

import json
import os

import click

from motionkit import hookimpl

from ._shared import count_option, glob_or_path


def _table(report: dict) -> str:
    def r(v):  # an energy ratio
        return f"{v:>6.2f}" if v is not None else f"{'-':>6}"

    out = [f"reference {report['reference'] or '(unnamed)'}: {report['reference_frames_30fps']} frames at 30 fps, "
           f"{len(report['joints'])} joints + {len(report['contacts'])} contacts (feature width "
           f"{report['feature_width']})",
           f"{'sample':<28} {'frames':>6} {'coverage':>9} {'global':>8} {'local':>8}   energy vs the reference: "
           f"{'body':>6} {'root':>6} {'accel':>6} {'skate':>6}"]
    for i, p in enumerate(report["per_sample"] + [dict(report, name="mean", frames_30fps="")]):
        out.append(f"{(p['name'] or f'sample {i}')[:28]:<28} {p['frames_30fps']:>6} {p['coverage']:>9.3f} "
                   f"{p['global_diversity']:>8.3f} {p['local_diversity']:>8.3f}   {'':>24}"
                   + " ".join(r(p[k]) for k in ("body_speed", "root_speed", "acceleration", "foot_skating")))
    inter = report["inter_diversity"]
    out.append(f"inter-sample diversity {inter:.3f}" if inter is not None else
               "inter-sample diversity: needs two or more samples")
    spread = report.get("reference_spread")
    if spread is not None:
        out.append(f"the reference's own spread {spread:.3f} (its 15-frame windows' distance to the nearest other "
                   "window of it: a local diversity near it is as new as the clip's own parts)")
    out.append(f"harmonic mean {report['harmonic_mean']:.3f}")
    return "\n".join(out)


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command(name="eval")
    @click.argument("reference", required=False)
    @click.argument("generated", nargs=-1)
    @click.option("-m", "--model", "model_paths", multiple=True,
                  help="Sample from this model instead of reading GENERATED (the reference: its training clip); "
                       "repeat -m or give a quoted glob to score several, one row each.")
    @count_option(20, "With -m: how many samples.")
    @click.option("--length", default="2x", show_default=True, help="With -m: frames per sample, or Nx the clip's.")
    @click.option("--seed", type=int, default=0, show_default=True, help="With -m: the sampling seed.")
    @click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
    @click.option("-o", "--output", default=None, help="Also write the JSON report to this file.")
    def eval_command(reference, generated, model_paths, count, length, seed, as_json, output):
        """Coverage, global/local and inter-sample diversity of GENERATED motions against REFERENCE.

        GANimator's definitions (SIGGRAPH 2022, §6): 30-frame coverage windows at ε = 2.0, patched nearest
        neighbour over segments of at least 30 frames, 15-frame local windows; all at 30 fps. Any format; a file
        may hold several samples (NPZ, glTF)."""
        from motionkit.errors import MotionkitError
        from motionkit.files import read_motions
        from motionkit.metrics import evaluate

        if len(model_paths) > 1 or (model_paths and glob_or_path(model_paths[0]) != [model_paths[0]]):
            return _several(model_paths, reference, generated, count, length, seed, as_json, output)
        model_path = model_paths[0] if model_paths else None
        if model_path:
            ref, gen = _from_model(model_path, reference, generated, count, length, seed)
        elif reference is None or not generated:
            raise MotionkitError("give REFERENCE and GENERATED files, or -m MODEL to sample and score it")
        else:
            ref, gen = read_motions(reference)[0], []
        for path in generated if not model_path else ():
            for k, m in enumerate(read_motions(path)):
                gen.append(m.replace(name=m.name or f"{path}#{k}"))
        report = evaluate(ref, gen)
        _write(report, output, (reference, *generated, model_path))
        click.echo(json.dumps(report, indent=2) if as_json else _table(report))


def _write(report, output, inputs):
    from motionkit.files import atomic_write, refuse_overwriting_input

    if output:
        refuse_overwriting_input(output, tuple(p for p in inputs if p))
        atomic_write(output, (json.dumps(report, indent=2) + "\n").encode())


def _several(model_paths, reference, generated, count, length, seed, as_json, output):
    """Each model scored as `eval -m MODEL` scores it: one row per model; --json a list of the reports."""
    from motionkit.metrics import evaluate

    from ._shared import load_models

    reports = []
    for path, _, _ in load_models(model_paths):
        ref, gen = _from_model(path, reference, generated, count, length, seed)
        reports.append({"model": path, **evaluate(ref, gen)})
    _write(reports, output, (reference, *generated, *(r["model"] for r in reports)))
    if as_json:
        click.echo(json.dumps(reports, indent=2))
        return

    def r(v):
        return f"{v:>6.2f}" if v is not None else f"{'-':>6}"

    click.echo(f"{'model':<32} {'coverage':>9} {'global':>8} {'local':>8} {'inter':>7}   energy: {'body':>6} "
               f"{'root':>6} {'accel':>6} {'skate':>6}")
    for p in reports:
        inter = f"{p['inter_diversity']:>7.3f}" if p["inter_diversity"] is not None else f"{'-':>7}"
        click.echo(f"{os.path.basename(p['model'])[:32]:<32} {p['coverage']:>9.3f} {p['global_diversity']:>8.3f} "
                   f"{p['local_diversity']:>8.3f} {inter}   {'':>7} "
                   + " ".join(r(p[k]) for k in ("body_speed", "root_speed", "acceleration", "foot_skating")))


def _from_model(model_path, reference, generated, count, length, seed):
    """The model's own check: ``count`` samples (one batched pass, foot clean-up on, as `sample` gives them)
    against its training clip (or REFERENCE)."""
    from motionkit import edit
    from motionkit.errors import MotionkitError
    from motionkit.files import read_motions

    from ._shared import load_model, rng, training_clip

    if generated:
        raise MotionkitError("with -m the samples come from the model: give no GENERATED files")
    path, model = load_model(model_path)
    ref = read_motions(reference)[0] if reference else training_clip(model, path, "REFERENCE")
    try:
        frames = int(round(float(length[:-1]) * ref.frames)) if length.endswith("x") else int(length)
    except ValueError:
        raise MotionkitError(f"--length {length!r}: frames (1296) or a multiple of the clip's (2x)") from None
    gen = edit.sample(model, count, frames, ref.fps, rng(seed), name="sample")
    return ref.replace(name=ref.name or path), gen
