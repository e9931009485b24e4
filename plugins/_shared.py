"""The commands' toolbox (not a plugin: no hooks here): the options every command spells the same way, finding and
loading models, reading sources, and the one routine that writes a command's result."""
from __future__ import annotations

import os
import sys

import click

from motionkit.errors import MotionkitError

DEFAULT_MODEL_FILE = ".motionkit-model"  # the last model trained in this folder


# ---- option types -----------------------------------------------------------------------------------------------

class _Checked(click.ParamType):
    """A number checked by one of ``motionkit.limits``' range checks (a usage error names the option)."""

    def __init__(self, name: str, check: str):
        self.name, self.check = name, check

    def convert(self, value, param, ctx):
        from motionkit import limits

        try:
            return getattr(limits, self.check)(value, None, f"--{param.name}" if param else self.name)
        except MotionkitError as e:
            self.fail(e.message, param, ctx)


FPS = _Checked("fps", "check_fps")
SCALE = _Checked("scale", "check_scale")
DISTANCE = click.FloatRange(min=0.0, max=1e6)


# ---- options ----------------------------------------------------------------------------------------------------

def model_option(f):
    return click.option("-m", "--model", "model_path", default=None,
                        help="Model file (default: $MOTIONKIT_MODEL, else the last one trained here).")(f)


def models_option(f):
    return click.option("-m", "--model", "model_paths", multiple=True,
                        help="Model file; repeat -m, or give a quoted glob ('models/*.mkm'), for several (default: "
                             "$MOTIONKIT_MODEL, else the last one trained here).")(f)


def count_option(default: int, help: str = "How many versions."):
    return click.option("-n", "count", type=click.IntRange(min=1), default=default, show_default=True, help=help)


def length_options(f):
    f = click.option("--seconds", type=float, default=None, help="Duration (default: see the command).")(f)
    return click.option("--length", type=int, default=None, help="Frames (at the output frame rate).")(f)


def seed_option(f):
    return click.option("--seed", type=int, default=None, help="Same seed, same model ⇒ same result.")(f)


UP_AXES = ("auto", "y", "-y", "z", "-z", "x", "-x")


def up_option(f):
    return click.option("--up", type=click.Choice(UP_AXES), default="auto", show_default=True,
                        help="The axis the input file stands on; auto finds it from the motion. A file that stands "
                             "on another axis (a Z-up export) is turned to stand on +Y, and BVH written from it "
                             "goes back to its axes.")(f)


def foot_fix_option(f):
    return click.option("--foot-fix/--no-foot-fix", default=True, show_default=True,
                        help="Hold feet still where the model predicts ground contact (IK foot locking).")(f)


def keep_option(f):
    return click.option("--keep", default=None, metavar="lower|upper|JOINT,...",
                        help="Body part kept from the source (named joints keep their whole subtree).")(f)


def output_option(help: str = "Output file or - (default: NPZ on a pipe, else a new file named after the model "
                              "and the command)."):
    return click.option("-o", "--output", default=None, help=help)


def to_option(f):
    return click.option("--to", "to", default=None, help="Output format when the extension does not say (e.g. on -).")(f)


def operation_options(f):
    """What every editing command takes, in one order: -m, -n, --seed, --foot-fix, -o, --to."""
    for option in reversed([model_option, count_option(1), seed_option, foot_fix_option, output_option(), to_option]):
        f = option(f)
    return f


def library_options(f):
    """The options of a library run (several clips → one model each, on an executor plugin)."""
    f = click.option("--eval", "evaluate", is_flag=True,
                     help="Library: score each model as `eval -m` does (20 samples at 2x) into the manifest.")(f)
    f = click.option("--max-retries", type=click.IntRange(min=0), default=2, show_default=True,
                     help="Library: times a task whose worker died is run again (it resumes from its last level).")(f)
    f = click.option("--gpus-per-job", type=click.FloatRange(min=0), default=0, show_default=True,
                     help="Library: GPUs each clip's training asks for.")(f)
    f = click.option("--cpus-per-job", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Library: CPU cores each clip's training asks for (and its torch threads).")(f)
    f = click.option("--address", default=None, envvar="RAY_ADDRESS",
                     help="Library: the cluster to run on (default: $RAY_ADDRESS, else a local one).")(f)
    return click.option("--executor", default=None,
                        help="Library: what runs the clips: ray (the default when installed), local, or a "
                             "plugin's.")(f)


# ---- values -----------------------------------------------------------------------------------------------------

def parse_range(text: str, frames: int | None = None, what: str = "--frames") -> tuple[int, int]:
    """'120:180' → (120, 180); either end may be left out; negative ends count from the end."""
    start_s, sep, stop_s = text.partition(":")
    if not sep:
        raise MotionkitError(f"{what} {text!r}: expected START:STOP, e.g. 120:180")
    try:
        start = int(start_s) if start_s.strip() else 0
        stop = int(stop_s) if stop_s.strip() else (frames if frames is not None else -1)
    except ValueError:
        raise MotionkitError(f"{what} {text!r}: START and STOP must be whole frame numbers") from None
    if frames is not None:
        start = start + frames if start < 0 else start
        stop = stop + frames if stop < 0 else stop
        if not 0 <= start < stop <= frames:
            raise MotionkitError(f"{what} {text}: outside the motion's {frames} frames (or empty)")
    return start, stop


def requested_frames(length: int | None, seconds: float | None, fps: float, default: int | None) -> int | None:
    """Frames asked for by --length or --seconds (at ``fps``), else ``default``."""
    if length is not None and seconds is not None:
        raise MotionkitError("give --length or --seconds, not both")
    if length is not None:
        frames = length
    elif seconds is not None:
        frames = int(round(seconds * fps))
    else:
        return default
    if frames < 1:
        raise MotionkitError("the requested length is under one frame")
    return frames


def rng(seed: int | None):
    """The torch random generator for a command: seeded by --seed, else from the system's entropy."""
    import torch

    return torch.Generator().manual_seed(seed if seed is not None else torch.seed() % 2 ** 31)


def pick_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise MotionkitError("--device cuda: no CUDA device is available to torch")
    return name


# ---- models -----------------------------------------------------------------------------------------------------

def record_default(path: str):
    from motionkit.files import atomic_write

    atomic_write(DEFAULT_MODEL_FILE, (os.path.abspath(path) + "\n").encode())


def find_model(option: str | None) -> str:
    """-m, else $MOTIONKIT_MODEL, else the last model trained in this folder (the command says which)."""
    if option:
        return option
    if os.environ.get("MOTIONKIT_MODEL"):
        path = os.environ["MOTIONKIT_MODEL"]
        click.echo(f"using model {path} (from $MOTIONKIT_MODEL)", err=True)
        return path
    if os.path.exists(DEFAULT_MODEL_FILE):
        path = open(DEFAULT_MODEL_FILE).read().strip()
        click.echo(f"using model {path} (the last one trained here)", err=True)
        return path
    raise MotionkitError("no model: give -m MODEL, set $MOTIONKIT_MODEL, or run `motionkit train CLIP` here first")


def load_model(option: str | None):
    """(path, model) for the -m option (see ``find_model``); warns when the model is only partly trained."""
    from motionkit.files import read_bytes
    from motionkit.modelfile import loads

    path = find_model(option)
    model = loads(read_bytes(path), path)
    if model.trained_levels == 0:  # `train` writes a model once a level is done: a file without one was made elsewhere
        raise MotionkitError(f"no level of the model is trained yet: nothing to generate from (`motionkit train "
                             f"CLIP -o {path} --resume` trains it)", path)
    if model.trained_stages < model.n_stages:
        click.echo(f"warning: {path} is only partly trained ({model.trained_stages} of {model.n_stages} stages)",
                   err=True)
    return path, model


def glob_or_path(arg: str) -> list[str]:
    """A quoted glob's matches, sorted (none: []), or the path itself (a file whose name has * in it stays one)."""
    import glob

    if not os.path.exists(arg) and glob.has_magic(arg):
        return sorted(glob.glob(arg, recursive=True))
    return [arg]


def load_models(options: tuple[str, ...]) -> list[tuple[str, object, str]]:
    """(path, model, label) for each -m (files or quoted globs, each model once; none: see ``find_model``). The
    label names the model's motions when there are several: the file's stem, made unique."""
    from motionkit.files import shown

    if not options:
        path, model = load_model(None)
        return [(path, model, "sample")]
    paths: list[str] = []
    for option in options:
        found = glob_or_path(option)
        if not found:
            raise MotionkitError(f"-m {shown(option)}: no model file matches")
        paths += found
    unique, real = [], set()
    for path in paths:
        if os.path.realpath(path) not in real:
            real.add(os.path.realpath(path))
            unique.append(path)
    out, seen = [], set()
    for path in unique:
        label = os.path.splitext(os.path.basename(path))[0]
        k = 2
        while label in seen:
            label, k = f"{os.path.splitext(os.path.basename(path))[0]}-{k}", k + 1
        seen.add(label)
        out.append((*load_model(path), label if len(unique) > 1 else "sample"))
    return out


def read_source(path: str, model):
    """The one motion in ``path``, checked against the model's skeleton (a clear error naming the mismatch); a
    format without an up rule is read on the axis the model's clip stood on."""
    from motionkit.files import read_motions

    motion = read_motions(path, likely_up=model.enc.skeleton.up)[0]  # the rig's files stand as its clip's did
    a, b = motion.skeleton.names, model.enc.skeleton.names
    if a != b:
        extra = [n for n in a if n not in b][:3]
        missing = [n for n in b if n not in a][:3]
        detail = (f"{len(a)} joints vs the model's {len(b)}" + (f"; not in the model: {', '.join(extra)}" if extra else "")
                  + (f"; missing: {', '.join(missing)}" if missing else "") if extra or missing or len(a) != len(b)
                  else "same joints in a different order")
        raise MotionkitError(f"its skeleton does not match the model's ({detail})", path)
    return motion


def training_clip(model, path: str, what: str = "SOURCE"):
    """The clip the model was trained on (kept in the model file)."""
    if model.clip is None:
        raise MotionkitError(f"this model file does not hold its training clip: give {what}", path)
    return model.clip


# ---- output -----------------------------------------------------------------------------------------------------

def default_output(model_path: str, operation: str, count: int = 1, ext: str = ".bvh") -> str:
    """NPZ to stdout on a pipe; at a terminal a new file named after the model and the operation (NPZ for several
    motions where the format holds one)."""
    if not sys.stdout.isatty():
        return "-"
    if count > 1 and ext == ".bvh":
        ext = ".npz"
    stem = os.path.splitext(os.path.basename(model_path))[0]
    path, k = f"{stem}-{operation}{ext}", 1
    while os.path.exists(path):
        path, k = f"{stem}-{operation}-{k}{ext}", k + 1
    return path


def emit(motions, output: str, to: str | None = None, inputs=(), options: dict | None = None):
    """Write a command's motions to ``output`` (``-``: stdout), never over one of ``inputs``; say what was written."""
    from motionkit.files import write_motions

    for p in write_motions(motions, output, to, options=options, inputs=tuple(i for i in inputs if i)):
        if p != "-":
            click.echo(f"wrote {p}", err=True)
