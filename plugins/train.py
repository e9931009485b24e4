"""`motionkit train CLIP`: learn the coarse-to-fine GAN from one clip (the paper's §3: GANimator's pyramid with
mini-batches, per-level annealed loss weights and cross-level transfer of the generators' early layers)."""
from __future__ import annotations

import hashlib
import os
import sys
import time

import click

from motionkit import __version__, hookimpl

from ._shared import FPS, library_options, parse_range, pick_device, record_default, up_option


def _ints(text):
    return [int(v) for v in text.split(",")] if text else None


def _floats(text):
    return [float(v) for v in text.split(",")] if text else None


TRAINING_OPTIONS = ("preset", "iterations", "batch", "d_steps", "lambda_adv", "lambda_rec", "lambda_contact",
                    "lambda_cover",
                    "transfer_layers",
                    "window", "gp_every", "noise", "seed", "fps", "frames", "joints", "contacts", "device", "plots",
                    "init", "stretch", "precision", "heading", "up")


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @click.argument("clips", nargs=-1, required=True)
    @click.option("-o", "--output", default=None,
                  help="Model file (default: CLIP's name with .mkm, here); for several clips, a folder.")
    @click.option("--preset", type=click.Choice(["fast", "paper", "ganimator"]), default="fast", show_default=True)
    @click.option("--iterations", default=None, help="Iterations per level: one number or four, comma-separated.")
    @click.option("--batch", type=int, default=None, help="Mini-batch: copies of the clip with independent noise.")
    @click.option("--d-steps", type=int, default=None, help="Critic steps per generator step.")
    @click.option("--lambda-adv", default=None, help="Per-level adversarial weights, comma-separated.")
    @click.option("--lambda-rec", default=None, help="Per-level reconstruction weights, comma-separated.")
    @click.option("--lambda-contact", type=click.FloatRange(min=0.0), default=None,
                  help="Weight of the foot-contact loss (tip speed where a foot is labelled down).")
    @click.option("--lambda-cover", default=None,
                  help="Per-level weights of the coverage loss (every window of the clip near some window of each "
                       "sample), comma-separated; a level trained on windows weighs it every few iterations on a "
                       "pass over its whole length.")
    @click.option("--transfer-layers", type=int, default=None, help="Early generator layers copied across levels (0: off).")
    @click.option("--window", type=click.IntRange(min=0), default=None,
                  help="Train each level on random windows this many frames long at its last stage (0: whole clip).")
    @click.option("--gp-every", type=click.IntRange(min=1), default=None,
                  help="Gradient penalty on every Nth critic step only, scaled by N (lazy regularisation).")
    @click.option("--noise", type=click.Choice(["frame", "full"]), default=None,
                  help="Training/sampling noise: one value per frame for all channels (GANimator's), or per channel.")
    @click.option("--stretch", type=click.FloatRange(min=1.0), default=None,
                  help="A level whose samples still cover more of the clip at its budget trains on, up to this "
                       "multiple of it (1: fixed budgets; default: the preset's, or 1 with --iterations).")
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option("--fps", type=FPS, default=30.0, show_default=True, help="Frame rate the model works at.")
    @click.option("--frames", default=None, help="Train on source frames START:STOP only.")
    @click.option("--joints", default=None, help="Modelled joints by name, comma-separated (default: by rule).")
    @click.option("--contacts", default=None, help="Contact joints by name, comma-separated (default: by rule).")
    @click.option("--init", default=None, metavar="MODEL",
                  help="Start from this model's generators: a model of another clip of the same skeleton (a "
                       "studio's rig); the new model encodes the same joints and feet.")
    @click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
    @click.option("--heading", type=click.Choice(["auto", "rate", "world"]), default=None,
                  help="The carrying joint's heading in the features: GANimator's world frame, or a turning rate "
                       "with its velocity in the heading's frame (smoother turns, less coverage); auto (default): "
                       "a rate where the clip turns steadily one way through a full turn (a walk in a circle).")
    @click.option("--precision", type=click.Choice(["auto", "float32", "bfloat16"]), default=None,
                  help="The networks' arithmetic in training (default float32; auto: bfloat16 where the CPU or GPU "
                       "computes it natively — faster, and on Salsa less coverage). Sampling stays float32 "
                       "(crowd has its own --precision).")
    @up_option
    @click.option("--resume", is_flag=True, help="Continue the model file's unfinished levels.")
    @click.option("--plots/--no-plots", default=True, show_default=True,
                  help="Write MODEL-losses.png and MODEL-preview.gif (three samples) next to the model.")
    @library_options
    def train(clips, output, resume, executor, address, cpus_per_job, gpus_per_job, max_retries, evaluate,
              **options):
        """Train a model on CLIP (BVH, glTF, NPZ or FBX; one motion).

        Several clips, a folder of clips, or - with -o FOLDER (a list of paths on stdin) train a library: one
        model per clip in FOLDER, on Ray where it is installed (see --executor), with FOLDER/manifest.jsonl
        saying what became of each clip."""
        from .library import is_library, train_library

        if is_library(clips, output):
            train_library(clips, output, options, executor=executor, address=address, cpus=cpus_per_job,
                          gpus=gpus_per_job, max_retries=max_retries, evaluate=evaluate)  # it always resumes
            return
        clip = clips[0]
        output = output or os.path.splitext(os.path.basename(clip if clip != "-" else "model"))[0] + ".mkm"
        model, history = train_clip(clip, output, options, resume=resume)
        record_default(output)
        if options["plots"]:
            _plots(model, output, history)


def train_clip(clip, output, options: dict, resume: bool = False, quiet: bool = False, threads: int | None = None):
    """Train one model on ``clip`` and write it to ``output`` (each finished level as it comes: a checkpoint that
    --resume, or a library's retried task, continues). ``options``: the train command's options by name.
    ``quiet``: no description and no progress (a library prints its own). Returns the trained model and its loss
    history (level → [(iteration, losses)]), for the plot."""
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from motionkit.errors import MotionkitError
    from motionkit.files import atomic_write, read_bytes, read_motions, refuse_overwriting_input
    from motionkit.model import Config, Model
    from motionkit.modelfile import dumps, loads
    from motionkit.train import fit, precision

    o = {k: options.get(k) for k in TRAINING_OPTIONS}
    refuse_overwriting_input(output, (clip,))
    dev = pick_device(o["device"] or "auto")
    torch.set_num_threads(threads or max(1, len(os.sched_getaffinity(0))))
    model = loads(read_bytes(output), output) if resume else None
    # on --resume, the clip the model was trained on, standing as it stood then
    motions = read_motions(clip, up=model.enc.skeleton.up if resume else o["up"])
    motion = motions[0]
    if len(motions) > 1 and not quiet:  # an FBX's takes, an NPZ batch: say which one trains
        click.echo(f"{clip} holds {len(motions)} motions ({', '.join(m.name or '?' for m in motions[:4])}"
                   f"{', …' if len(motions) > 4 else ''}): training on the first; `motionkit convert {clip} -o "
                   "'part_%s.bvh'` splits them", err=True)
    if o["frames"]:
        motion = motion.slice(*parse_range(o["frames"], motion.frames))
    if resume:
        # the arithmetic the first run resolved ("auto" is not asked again on another machine)
        model.config.precision = model.provenance.get("precision") or model.config.precision
    else:
        its = _ints(o["iterations"])
        if its is not None and len(its) == 1:
            its = its * 4
        fps = o["fps"] or 30.0
        cfg = Config.from_preset(o["preset"] or "fast", iterations=its, batch=o["batch"], d_steps=o["d_steps"],
                                 lambda_adv=_floats(o["lambda_adv"]), lambda_rec=_floats(o["lambda_rec"]),
                                 lambda_contact=o["lambda_contact"], lambda_cover=_floats(o["lambda_cover"]),
                                 transfer_layers=o["transfer_layers"], window=o["window"], gp_every=o["gp_every"],
                                 noise=o["noise"], seed=o["seed"] or 0, fps=fps, precision=o["precision"],
                                 heading=None if o["heading"] in (None, "auto") else o["heading"] == "rate",
                                 # a budget the user sets is kept unless they also ask for a stretch
                                 stretch=o["stretch"] if o["stretch"] is not None else 1.0 if its else None)
        if motion.duration * fps < 30:
            raise MotionkitError(f"{clip}: the clip is too short to train on (needs at least 1 s)")
        provenance = {"clip": os.path.basename(clip), "sha256": hashlib.sha256(read_bytes(clip)).hexdigest()
                      if clip != "-" else None, "frames": o["frames"], "motionkit": __version__,
                      "torch": torch.__version__, "device": dev, "source_fps": motion.fps,
                      "precision": str(precision(cfg.precision, dev)).replace("torch.", "")}
        joints = o["joints"].split(",") if o["joints"] else None
        contacts = o["contacts"].split(",") if o["contacts"] else None
        offsets = base = None
        if o["init"]:  # warm start: the base model's joints, feet and offsets, so its generators fit
            base_bytes = read_bytes(o["init"])  # read once: what is parsed is what is hashed
            base = loads(base_bytes, o["init"])
            names = base.enc.skeleton.names
            if names != motion.skeleton.names or list(base.enc.skeleton.parents) != list(motion.skeleton.parents):
                raise MotionkitError(f"--init {o['init']}: its skeleton is not the clip's ({len(names)} joints vs "
                                     f"{len(motion.skeleton)}, or other names or parents)")
            joints = joints or [names[j] for j in base.enc.joints]
            contacts = contacts or [names[j] for j in base.enc.contacts]
            offsets = [names[j] for j in base.enc.offsets]
            if o["heading"] not in (None, "auto") and (o["heading"] == "rate") != base.enc.heading:
                raise MotionkitError(f"--init {o['init']}: it encodes the heading "
                                     f"{'as a rate' if base.enc.heading else 'in the world frame'}; --heading "
                                     f"{o['heading']} cannot start from it")
            cfg.heading = base.enc.heading  # encoded as the base is (a model from before the heading: the world)
            provenance["init"] = {"model": os.path.basename(o["init"]),
                                  "sha256": hashlib.sha256(base_bytes).hexdigest()}
        model = Model.from_clip(motion, cfg, joints=joints, contacts=contacts, provenance=provenance,
                                offsets=offsets)
        if base is not None:
            try:
                copied = model.warm_start(base)
            except ValueError:
                raise MotionkitError(f"--init {o['init']}: it models other joints than --joints/--contacts ask "
                                     "for") from None
            if not quiet:
                click.echo(f"starting from {o['init']}: {copied} of {model.n_stages} stages' generators", err=True)
        if not quiet:
            _describe(model, motion, clip, dev, heading_from="init" if base is not None else
                      "option" if o["heading"] not in (None, "auto") else "clip")
    clip_x = model.encode(motion)
    n_levels = len(model.levels)
    started = time.time()
    said: set[int] = set()  # levels whose checks were printed

    def save(m):
        atomic_write(output, dumps(m))
        levels = m.provenance.get("levels")
        checks = levels.get(str(m.trained_levels)) if isinstance(levels, dict) else None
        if isinstance(checks, dict) and not quiet and m.trained_levels not in said:  # what the stretch decided, once
            said.add(m.trained_levels)
            click.echo(f"level {m.trained_levels}/{n_levels}: {checks['iterations']} iterations (budget "
                       f"{m.config.iterations[min(m.trained_levels, len(m.config.iterations)) - 1]}); coverage "
                       + " → ".join(f"{c:.2f}" for _, c in checks["coverage"])
                       + (f"; kept the weights of iteration {checks['kept']}, its best" if "kept" in checks else ""),
                       err=True)
        if m.trained_levels < n_levels and not quiet:  # every level on disk samples, at its detail so far
            click.echo(f"level {m.trained_levels}/{n_levels} saved in {output} after {time.time() - started:.0f} s: "
                       f"`motionkit sample -m {output}` works now (coarser detail until training ends)",
                       err=True)

    history: dict[int, list] = {}
    live = sys.stderr.isatty() and not quiet
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TextColumn("{task.fields[losses]}"), TimeRemainingColumn(), transient=False,
                  disable=not live) as bar:
        tasks = {}

        def progress(level, it, total, losses):
            history.setdefault(level, []).append((it, losses))  # tensors: read once, after training
            if level not in tasks:
                tasks[level] = bar.add_task(f"level {level + 1}/{n_levels}", total=total, losses="")

            def text():
                return " ".join(f"{k} {float(v):.3f}" for k, v in losses.items())

            if live and (it % 10 == 0 or it == total):
                bar.update(tasks[level], completed=it, losses=text())
            elif not live and not quiet and (it % max(1, total // 10) == 0 or it == total):  # a log, not a bar
                click.echo(f"level {level + 1}/{n_levels} {it}/{total} {text()} ({time.time() - started:.0f} s)",
                           err=True)

        try:
            fit(model, clip_x, device=dev, progress=progress, checkpoint=save)
        except KeyboardInterrupt:
            if model.trained_levels:
                save(model)
                if not quiet:
                    click.echo(f"interrupted: {model.trained_levels} of {n_levels} levels kept in {output}; "
                               "continue with --resume", err=True)
            raise
    if not quiet:
        if model.trained_levels == n_levels:  # calibrated (``train.calibrate``, ``train.calibrate_contacts``)
            click.echo(f"sampling calibrated: temperature {model.temperature:g}, a foot is down where its label is "
                       f"above {model.contact_threshold:.3f}", err=True)
        click.echo(f"wrote {output} ({time.time() - started:.0f} s)", err=True)
    return model, {level: [(it, {k: float(v) for k, v in losses.items()}) for it, losses in rows]
                   for level, rows in history.items()}


def _cover_line(weight: float, level: int, every: int) -> str:
    """The recipe line's words for the coverage loss at one level (``train.cover_every``'s ``every``)."""
    if every == 0:
        return f"; no coverage loss at level {level + 1} (the take is too long for it)"
    return f"; coverage loss {weight:g} at level {level + 1}" + (
        f" (every {every} iterations, over the whole length)" if every > 1 else "")


def _describe(model, motion, clip, device="cpu", heading_from="clip"):
    """What motionkit read in the clip, before the minutes of training: a wrong guess shows in the first second."""
    import numpy as np

    from motionkit import anatomy
    from motionkit.features import travel_headings, turning
    from motionkit.train import cover_every, cover_weights

    enc, sk, cfg = model.enc, model.enc.skeleton, model.config
    unit, _ = anatomy.guess_units(enc.height)
    scores = anatomy.contact_scores(motion.resampled(enc.fps), enc.height)
    left_out = len(sk) - len(enc.joints)
    span, net, total = turning(travel_headings(motion.resampled(enc.fps), enc), enc.fps)

    def listed(idx, most=8):
        names = [sk.names[j] for j in idx]
        return ", ".join(names[:most]) + (f" … ({len(names)} in all)" if len(names) > most else "")

    lines = [
        f"clip       {clip}: {motion.frames} frames at {motion.fps:g} fps → {model.lengths[-1]} at {enc.fps:g}; "
        f"body height {enc.height:.4g} units (looks like {unit})"
        + (f"; it stands on {sk.up.upper()} in the file: held +Y up, samples written back as the file had it"
           if sk.up != "y" else ""),
        f"travel     {sk.names[enc.travel]} carries the character; its heading "
        + ("a turning rate, its velocity in the heading's frame" if enc.heading else "and velocity in the world frame")
        + {"option": "", "init": " (as the --init model encodes it)",
           "clip": f" (it spans {np.degrees(span):.0f}°, turning {np.degrees(abs(net)):.0f}° net of "
                   f"{np.degrees(total):.0f}°: " + ("steadily one way" if enc.heading else
                                                    "not steadily one way through a full turn")
                   + "; --heading rate|world overrides)"}[heading_from],
        f"modelled   {len(enc.joints)} joints: {listed(enc.joints)} ({left_out} left out: still, digits, above)",
        "contacts   " + (", ".join(f"{sk.names[j]} ({100 * scores.get(j, 0):.0f} % of frames standing)"
                                   for j in enc.contacts) or "none found (no foot locking; --contacts names them)"),
    ]
    if enc.offsets:
        lines.append(f"offsets    {len(enc.offsets)} joints move their offset: {listed(enc.offsets, 6)}")
    lines += [
        f"pyramid    {model.n_stages} stages in {len(model.levels)} levels: {', '.join(map(str, model.lengths))} "
        f"frames; {enc.width} feature channels",
        f"recipe     {cfg.preset}: batch {cfg.batch}, {cfg.d_steps} critic steps, "
        f"{' / '.join(map(str, cfg.iterations))} iterations per level"
        + (f" (up to {cfg.stretch:g}x where samples still cover more of the clip, 3/4 where they cover 0.98 by then)"
           if cfg.stretch > 1 else "")
        + "".join(_cover_line(w, li, cover_every(model, model.levels[li]))
                  for li, w in enumerate(cover_weights(model)) if w)
        + f"; {model.provenance.get('precision', 'float32')} on {device}",
    ]
    for line in lines:
        click.echo(line, err=True)


def _plots(model, output, history):
    """The training plot and a look at three samples, so a user sees what they got without a DCC."""
    from motionkit import edit
    from motionkit.render import plot_losses, render

    from ._shared import rng

    stem = os.path.splitext(output)[0]
    if history:
        plot_losses(history, f"{stem}-losses.png")
        click.echo(f"wrote {stem}-losses.png", err=True)
    samples = edit.sample(model, 3, model.clip_frames(model.source_fps), rng=rng(0))
    samples = [m.replace(name=f"sample {i + 1}") for i, m in enumerate(samples)]
    render(samples, f"{stem}-preview.gif", fps=10.0, size=(720, 300))
    click.echo(f"wrote {stem}-preview.gif (three samples)", err=True)
