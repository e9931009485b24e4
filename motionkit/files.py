"""Motion files through the registered formats: reading (sniffing, stdin), writing (stdout, atomic writes)."""
from __future__ import annotations

import os
import sys
import tempfile

from .errors import MotionkitError
from .hookspecs import Format
from .motion import Motion


def _formats() -> dict[str, Format]:
    from .registry import formats  # the plugin manager loads the format modules, which import this one

    return formats()


def format_named(name: str) -> Format:
    fmts = _formats()
    key = name.lower().lstrip(".")
    if key in fmts:
        return fmts[key]
    for f in fmts.values():
        if "." + key in f.extensions:
            return f
    raise MotionkitError(f"unknown format {name!r} (known: {', '.join(sorted(fmts))})")


def format_for_path(path: str) -> Format | None:
    lower = path.lower()
    best = None
    for f in _formats().values():
        for ext in f.extensions:
            if lower.endswith(ext) and (best is None or len(ext) > len(best[1])):
                best = (f, ext)
    return best[0] if best else None


def read_bytes(path: str) -> bytes:
    """The bytes of ``path`` (``-`` is standard input), with one-line errors for the usual mistakes."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise MotionkitError("no such file", path) from None
    except IsADirectoryError:
        raise MotionkitError("is a directory, not a motion file", path) from None
    except PermissionError:
        raise MotionkitError("permission denied", path) from None
    except OSError as e:
        raise MotionkitError(f"cannot read ({e.strerror or e})", path) from None


def read_motions(path: str, fmt: str | None = None) -> list[Motion]:
    """Every motion in a file; the format comes from ``fmt``, else the first bytes, else the extension."""
    data = read_bytes(path)
    source = "<stdin>" if path == "-" else path
    if not data.strip():
        raise MotionkitError("empty file", source)
    chosen = format_named(fmt) if fmt else None
    if chosen is None:
        chosen = next((f for f in _formats().values() if f.read and f.sniff(data[:64])), None)
    if chosen is None:
        by_ext = format_for_path(path)
        if by_ext is not None and by_ext.read:
            chosen = by_ext
    if chosen is None:
        raise MotionkitError("unrecognised file format (not BVH, glTF or NPZ; see `motionkit formats`)", source)
    if chosen.read is None:
        raise MotionkitError(f"the {chosen.name} format cannot be read", source)
    motions = chosen.read(data, source)
    if not motions:
        raise MotionkitError("the file holds no motion", source)
    return motions


def output_format(path: str, to: str | None, default_pipe: str = "npz") -> Format:
    """The format to write: ``--to``, else the extension, else NPZ on a pipe."""
    if to:
        return format_named(to)
    if path == "-":
        return format_named(default_pipe)
    f = format_for_path(path)
    if f is None or f.write is None:
        raise MotionkitError(f"cannot tell the output format from the extension of {path!r} "
                             f"(use one of {', '.join(sorted(_formats()))} or --to)")
    return f


def write_motions(motions: list[Motion], path: str, to: str | None = None, options: dict | None = None,
                  inputs: tuple[str, ...] = ()) -> list[str]:
    """Write motions to ``path`` (``-`` for stdout, ``%03d`` in the name for one file per motion).

    Files are written atomically (temp file + rename); a path that is one of ``inputs`` is refused.
    Returns the paths written."""
    fmt = output_format(path, to)
    if fmt.write is None:
        raise MotionkitError(f"the {fmt.name} format cannot be written")
    options = dict(options or {})
    if path != "-" and "%" in path:
        try:
            targets = [(path % i, [m]) for i, m in enumerate(motions)]
        except (TypeError, ValueError):
            raise MotionkitError(f"bad file name pattern {path!r} (use e.g. crowd_%03d.bvh)") from None
    else:
        if len(motions) > 1 and not fmt.multiple:
            raise MotionkitError(f"{path}: a {fmt.name} file holds one motion and there are {len(motions)} "
                                 f"(name the output like out_%03d.{fmt.extensions[0].lstrip('.')} for one file each)")
        targets = [(path, motions)]
    for target, _ in targets:
        refuse_overwriting_input(target, inputs)
    written = []
    for target, ms in targets:
        data = fmt.write(ms, options)
        if target == "-":
            if fmt.binary and sys.stdout.isatty():
                raise MotionkitError(f"refusing to write binary {fmt.name} to a terminal "
                                     "(redirect it, pipe it, or give -o FILE)")
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            atomic_write(target, data)
        written.append(target)
    return written


def refuse_overwriting_input(target: str, inputs: tuple[str, ...]):
    if target == "-":
        return
    for src in inputs:
        if src != "-" and os.path.exists(target) and os.path.exists(src) and os.path.samefile(src, target):
            raise MotionkitError("output is the same file as an input; refusing to overwrite it", target)


def atomic_write(path: str, data: bytes):
    """Write to a temporary file beside ``path``, then rename: a reader never sees half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise MotionkitError("is a directory", path)
    if not os.path.isdir(directory):
        raise MotionkitError("the folder does not exist", path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise MotionkitError(f"cannot write ({e.strerror or e})", path) from None
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
