"""A studio's library: `motionkit train CLIPS... -o MODELS/` trains one model per clip — embarrassingly parallel, so
the clips run on an executor plugin (Ray by default where it is installed) — and `motionkit library MODELS/` says
what became of each.

Every clip is one job: it trains exactly as `motionkit train CLIP -o MODELS/CLIP.mkm` would, writing each
finished level to its model file, so a job run again (a retry after its worker died, or the same command run
again) resumes where the file stops, and a finished model whose clip has not changed is skipped. What became of
each clip is appended to ``MODELS/manifest.jsonl``, one JSON line per clip and run, by this process alone."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import click

from motionkit import hookimpl

from ._shared import glob_or_path

MANIFEST = "manifest.jsonl"


def is_library(clips: tuple[str, ...], output: str | None) -> bool:
    """Several clips, a folder of clips, or an output folder make a library; one clip keeps `train`'s behaviour."""
    return (len(clips) > 1 or any(c != "-" and os.path.isdir(c) for c in clips)
            or (output is not None and (output.endswith(os.sep) or os.path.isdir(output))))


def collect(args: tuple[str, ...], output: str) -> list[str]:
    """The clips named by files, folders (every readable motion file below), quoted globs, and ``-`` (one path per
    line on stdin), in order, each once. A name that matches nothing stays, to fail alone."""
    from motionkit.files import format_for_path

    out: list[str] = []

    def readable(path):
        fmt = format_for_path(path)
        return fmt is not None and fmt.read is not None

    for arg in args:
        if arg == "-":
            names = [line.strip() for line in sys.stdin.read().splitlines()]
            out += [n for n in names if n and not n.startswith("#")]
        elif os.path.isdir(arg):
            for root, dirs, files in os.walk(arg):
                dirs[:] = sorted(d for d in dirs if os.path.realpath(os.path.join(root, d)) != os.path.realpath(output))
                out += [os.path.join(root, f) for f in sorted(files) if readable(f)]
        else:
            out += glob_or_path(arg) or [arg]  # a pattern that matches nothing stays, to fail alone
    seen, clips = set(), []
    for c in out:
        key = os.path.realpath(c)
        if key not in seen:
            seen.add(key)
            clips.append(c)
    return clips


def model_names(clips: list[str], folder: str) -> dict[str, str]:
    """Clip → model path in ``folder``, named after the clip; clips of the same name get a suffix from their path,
    so no two jobs ever write the same file."""
    stems = [os.path.splitext(os.path.basename(c))[0] for c in clips]
    names = {}
    for clip, stem in zip(clips, stems):
        if stems.count(stem) > 1:
            stem += "-" + hashlib.sha256(os.path.realpath(clip).encode()).hexdigest()[:8]
        names[clip] = os.path.join(folder, stem + ".mkm")
    return names


def trained_levels(model_path: str, sha256: str | None) -> tuple[int, int] | None:
    """(finished levels, levels) of the model file a previous run of this clip left, or None (no file, not a model,
    or a model of another version of the clip)."""
    from motionkit.errors import MotionkitError
    from motionkit.files import read_bytes
    from motionkit.modelfile import loads

    if not os.path.isfile(model_path):
        return None
    try:
        model = loads(read_bytes(model_path), model_path)
    except MotionkitError:
        return None
    if sha256 is None or (model.provenance or {}).get("sha256") != sha256:
        return None
    return model.trained_levels, len(model.levels)


def train_job(job: dict) -> dict:
    """One clip → one model file, in whatever process the executor chose. Never raises for a bad clip: the error
    is the result. A KeyboardInterrupt (Ctrl-C, a cancelled task) keeps the finished levels and goes on up."""
    import resource

    from motionkit.errors import MotionkitError

    from .train import train_clip

    t = time.time()
    out = {"clip": job["clip"], "sha256": job["sha256"], "model": job["model"]}
    try:
        before = trained_levels(job["model"], job["sha256"])
        model, _ = train_clip(job["clip"], job["model"], job["options"], resume=before is not None, quiet=True,
                              threads=job["cpus"])
        out.update(status="done", resumed_from_level=before[0] if before else 0)
        if job.get("evaluate"):
            out.update(score(model))
    except MotionkitError as e:
        out.update(status="failed", error=str(e))
    except Exception as e:  # a clip that breaks us (a bug of ours): it fails alone, and says so
        out.update(status="failed", error=f"internal error: {type(e).__name__}: {' '.join(str(e).split())[:200]}")
    out.update(wall_s=round(time.time() - t, 1),
               peak_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    return out


def score(model) -> dict:
    """What `motionkit eval -m MODEL` reports: 20 samples at twice the clip's length against the clip."""
    from motionkit import edit
    from motionkit.metrics import evaluate

    from ._shared import rng

    clip = model.clip
    report = evaluate(clip, edit.sample(model, 20, 2 * clip.frames, clip.fps, rng(0), name="sample"))
    return {k: report[k] for k in ("coverage", "global_diversity", "local_diversity", "body_speed", "root_speed")}


def append(path: str, entry: dict):
    """One line, one write(2) in append mode: a reader never sees half a line, and earlier lines are never
    rewritten."""
    data = (json.dumps(entry) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)


def pick_executor(name: str | None):
    from motionkit.errors import MotionkitError
    from motionkit.registry import executors

    table = executors()
    if name is None:
        return next(e for n in ("ray", "local") if (e := table.get(n)) and e.available())
    if name not in table:
        raise MotionkitError(f"--executor {name}: no such executor (have: {', '.join(sorted(table))})")
    if not table[name].available():
        hint = " (pip install 'motionkit[ray]')" if name == "ray" else ""
        raise MotionkitError(f"--executor {name}: not available here{hint}")
    return table[name]


def train_library(args, output, options, executor=None, address=None, cpus=2, gpus=0.0, max_retries=2,
                  evaluate=False):
    """`motionkit train CLIPS... -o FOLDER/`: see the module's docstring."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from motionkit.errors import MotionkitError
    from motionkit.files import read_bytes, shown

    if not output:
        raise MotionkitError("several clips train one model each: give -o FOLDER for the models")
    if os.path.exists(output) and not os.path.isdir(output):
        raise MotionkitError(f"-o {shown(output)}: several clips need a folder, and this is a file")
    chosen = pick_executor(executor)
    clips = collect(args, output)
    if not clips:
        raise MotionkitError("no clips to train: the folders and patterns given hold no motion files")
    os.makedirs(output, exist_ok=True)
    manifest = os.path.join(output, MANIFEST)
    names = model_names(clips, output)
    options = dict(options, plots=False)
    jobs, counts, started = [], {"done": 0, "failed": 0, "skipped": 0}, time.time()

    def record(entry: dict):
        entry = dict(entry, executor=chosen.name, time=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        entry.setdefault("error", None)
        append(manifest, entry)
        counts[entry["status"]] += 1
        name, status = shown(entry["clip"]), entry["status"]
        line = (f"{status} {name}: {entry['error']}" if status == "failed" else
                f"{status} {name} → {shown(entry['model'])}" + (f" ({entry['wall_s']:.0f} s)" if status == "done" else ""))
        if bar.disable:
            click.echo(line, err=True)
        else:
            bar.console.print(line, markup=False, highlight=False)
            bar.update(task, advance=1, description=describe())

    def describe():
        running = len(jobs) - counts["done"] - counts["failed"]
        return (f"clips: {counts['done'] + counts['skipped']} done, {counts['failed']} failed, "
                f"{max(running, 0)} running or queued")

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), disable=not sys.stderr.isatty(),
                  console=None) as bar:
        task = bar.add_task("clips", total=len(clips))
        for clip in clips:  # what needs no worker: unreadable files, finished models
            model = names[clip]
            try:
                if os.path.realpath(clip) == os.path.realpath(model):
                    raise MotionkitError("its model would overwrite it", clip)
                sha = hashlib.sha256(read_bytes(clip)).hexdigest()
            except MotionkitError as e:
                record({"clip": clip, "sha256": None, "model": model, "status": "failed", "error": str(e)})
                continue
            levels = trained_levels(model, sha)
            if levels and levels[0] == levels[1]:
                record({"clip": clip, "sha256": sha, "model": model, "status": "skipped"})
                continue
            jobs.append({"clip": clip, "sha256": sha, "model": model, "options": options, "cpus": cpus,
                         "evaluate": evaluate})
        bar.update(task, description=describe())
        if jobs:
            settings = {"cpus": cpus, "gpus": gpus, "max_retries": max_retries, "address": address}
            for job, result in chosen.run(train_job, jobs, settings):  # an executor's own failure names no clip
                record({"clip": job["clip"], "sha256": job["sha256"], "model": job["model"], **result})
    total = len(clips)
    click.echo(f"{counts['done']} trained, {counts['skipped']} already done, {counts['failed']} failed of {total} "
               f"clips in {time.time() - started:.0f} s ({chosen.name}); manifest: {shown(manifest)}", err=True)
    if counts["failed"]:
        raise MotionkitError(f"{counts['failed']} of {total} clips failed (their errors are in {shown(manifest)})")


def summary(folder: str) -> list[dict]:
    """The latest manifest line of each clip, in the order the clips first appear."""
    from motionkit.errors import MotionkitError
    from motionkit.files import read_bytes

    path = os.path.join(folder, MANIFEST) if os.path.isdir(folder) else folder
    if not os.path.exists(path):
        raise MotionkitError("no manifest here: train a library into it first (motionkit train CLIPS -o FOLDER/)",
                             folder)
    latest: dict[str, dict] = {}
    for n, line in enumerate(read_bytes(path).decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict) or not isinstance(entry.get("clip"), str):
                raise ValueError
        except ValueError:
            raise MotionkitError(f"line {n} is not a manifest entry", path) from None
        if entry.get("status") == "skipped" and entry["clip"] in latest:
            continue  # a re-run that found it finished: the line that trained it says more
        latest[entry["clip"]] = entry
    return list(latest.values())


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_commands(cli):
    @cli.command()
    @click.argument("folder")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per clip, a list.")
    def library(folder, as_json):
        """What became of each clip of a library FOLDER (its manifest.jsonl): status, model, time, memory, scores."""
        from motionkit.files import shown

        entries = summary(folder)
        if as_json:
            click.echo(json.dumps(entries, indent=2))
            return

        def num(v, fmt):
            return format(v, fmt) if isinstance(v, (int, float)) else "-"

        click.echo(f"{'clip':<32} {'status':<8} {'wall':>7} {'peak MB':>8} {'coverage':>9} {'global':>7} "
                   f"{'local':>7}  model / error")
        for e in entries:
            clip = shown(os.path.basename(e["clip"]))[:32]
            tail = shown(e.get("error") or "") if e.get("status") == "failed" else shown(str(e.get("model", "")))
            click.echo(f"{clip:<32} {shown(str(e.get('status'))):<8} {num(e.get('wall_s'), '.0f'):>7} "
                       f"{num(e.get('peak_mb'), '.0f'):>8} {num(e.get('coverage'), '.3f'):>9} "
                       f"{num(e.get('global_diversity'), '.3f'):>7} {num(e.get('local_diversity'), '.3f'):>7}  {tail}")
        by = {s: sum(e.get("status") == s for e in entries) for s in ("done", "skipped", "failed")}
        click.echo(f"{len(entries)} clips: {by['done'] + by['skipped']} with a model, {by['failed']} failed")
