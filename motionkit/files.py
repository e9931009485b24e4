"""Motion files through the registered formats: reading (sniffing, stdin), writing (stdout, atomic writes)."""
from __future__ import annotations

import os
import re
import stat
import sys
import tempfile

import numpy as np

from . import limits
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
    """The bytes of ``path`` (``-`` is standard input), with one-line errors for the usual mistakes; a file or stream
    larger than the limit (``limits``: $MOTIONKIT_MAX_BYTES) is refused before more of it is read."""
    cap = limits.limit("MOTIONKIT_MAX_BYTES")
    try:
        fh = sys.stdin.buffer if path == "-" else open(path, "rb")
    except FileNotFoundError:
        raise MotionkitError("no such file", path) from None
    except IsADirectoryError:
        raise MotionkitError("is a directory, not a motion file", path) from None
    except PermissionError:
        raise MotionkitError("permission denied", path) from None
    except OSError as e:
        raise MotionkitError(f"cannot read ({e.strerror or e})", path) from None
    try:
        chunks, size = [], 0
        while True:
            chunk = fh.read(min(1 << 22, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                raise MotionkitError(f"more than {cap} bytes: larger than motionkit reads "
                                     "($MOTIONKIT_MAX_BYTES raises the limit)", "<stdin>" if path == "-" else path)
        return b"".join(chunks)
    except IsADirectoryError:
        raise MotionkitError("is a directory, not a motion file", path) from None
    except OSError as e:
        raise MotionkitError(f"cannot read ({e.strerror or e})", path) from None
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def shown(text: str) -> str:
    """A file or joint name as it may be printed on a terminal: control characters escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def read_motions(path: str, fmt: str | None = None, data: bytes | None = None, up: str | None = None,
                 likely_up: str | None = None) -> list[Motion]:
    """Every motion in a file (``data``: its bytes, already read); the format comes from ``fmt``, else the first
    bytes, else the extension.

    Which way is up: ``up`` (a key of ``motion.UP_TURNS``, the user's word) turns every motion the file holds
    unturned from that axis, whatever its format; otherwise a format with a rule (glTF: +Y; motionkit's NPZ keeps
    its own axis) is taken as it stands, and any other takes ``likely_up`` (the axis a model's clip stood on, for
    a file of the same rig) or else the axis its motion stands on (``standing_up``)."""
    data = read_bytes(path) if data is None else data
    source = "<stdin>" if path == "-" else shown(path)
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
    if up not in (None, "auto"):
        axis = up  # the user's word, whatever the format
    elif chosen.y_up:
        return motions  # a format with a rule
    else:
        axis = likely_up  # a model's clip's axis, else the search
    if axis in (None, "auto"):
        return [standing_up(m) for m in motions]
    return [m.turned_up(axis) if m.skeleton.up == "y" and axis != "y" else m for m in motions]


def standing_up(motion: Motion) -> Motion:
    """``motion`` turned to stand on +Y when its motion stands on another axis (``anatomy.up_axis``: a Z-up
    export); its skeleton remembers the file's axis, and the BVH writer turns it back."""
    from . import anatomy

    if motion.skeleton.up != "y":  # turned already
        return motion
    up = anatomy.up_axis(motion)
    return motion if up == "y" else motion.turned_up(up)


def output_format(path: str, to: str | None, default_pipe: str = "npz") -> Format:
    """The format to write: ``--to``, else the extension, else NPZ on a pipe."""
    if to:
        return format_named(to)
    if path == "-":
        return format_named(default_pipe)
    f = format_for_path(path)
    if f is None or f.write is None:
        raise MotionkitError(f"cannot tell the output format from the extension of {shown(path)!r} "
                             f"(use one of {', '.join(sorted(_formats()))} or --to)")
    return f


_PATTERN = re.compile(r"%(%|0?[1-9]?d|s)")


def output_names(path: str, motions: list[Motion]) -> list[str] | None:
    """One file name per motion from a pattern (``%d``/``%03d``: the motion's number, ``%s``: its name, ``%%``: a
    literal %), or None when ``path`` is not a pattern. Refused unless every name is different."""
    parts = _PATTERN.split(path)
    if "%" not in path:
        return None
    if "%" in "".join(parts[::2]):
        raise MotionkitError(f"bad file name pattern {shown(path)!r}: use %d or %03d (the motion's number), %s (its "
                             "name) or %% (a %)")
    if not any(p != "%" for p in parts[1::2]):
        return None  # only %%: a literal name

    def fill(i: int, m: Motion) -> str:
        out = []
        for k, part in enumerate(parts):
            if k % 2 == 0:
                out.append(part)
            elif part == "%":
                out.append("%")
            elif part == "s":
                out.append(re.sub(r"[^\w.-]+", "_", m.name) or f"motion{i}")
            else:
                out.append(("%" + part) % i)
        return "".join(out)

    names = [fill(i, m) for i, m in enumerate(motions)]
    if len(set(names)) != len(names):
        raise MotionkitError(f"the pattern {shown(path)!r} gives two motions the same file name; use %03d")
    return names


def check_writable(motions: list[Motion], what: str = "output"):
    """Refuse, before anything is written, what motionkit could not read back: non-finite numbers, a frame rate
    out of range, a motion too large."""
    for m in motions:
        limits.check_fps(m.fps, None, f"the {what}'s frame rate")
        limits.check_motion_size(m.frames, len(m.skeleton))
        sk = m.skeleton
        arrays = [m.rotations, m.translations, sk.offsets] + list(sk.end_sites.values())
        if not all(np.all(np.isfinite(a)) for a in arrays):
            raise MotionkitError(f"the {what} {shown(m.name) or ''} holds NaN or infinite values: nothing written")
        if np.abs(m.translations).max(initial=0) > 1e15 or np.abs(sk.offsets).max(initial=0) > 1e15:
            raise MotionkitError(f"the {what} {shown(m.name) or ''} holds lengths beyond 1e15 units: nothing written")


def write_motions(motions: list[Motion], path: str, to: str | None = None, options: dict | None = None,
                  inputs: tuple[str, ...] = ()) -> list[str]:
    """Write motions to ``path`` (``-`` for stdout; a pattern such as ``crowd_%03d.bvh`` for one file each).

    All or nothing: every motion is checked and every file is encoded and written to a temporary file before the
    first one takes its name; a name that is one of ``inputs`` is refused. Returns the paths written."""
    fmt = output_format(path, to)
    if fmt.write is None:
        raise MotionkitError(f"the {fmt.name} format cannot be written")
    check_writable(motions)
    options = dict(options or {})
    names = output_names(path, motions) if path != "-" else None
    if names is not None:
        targets = [(name, [m]) for name, m in zip(names, motions)]
    else:
        literal = path.replace("%%", "%")
        if len(motions) > 1 and not fmt.multiple:
            raise MotionkitError(f"{shown(literal)}: a {fmt.name} file holds one motion and there are {len(motions)} "
                                 f"(name the output like out_%03d.{fmt.extensions[0].lstrip('.')} for one file each)")
        targets = [(literal, motions)]
    for target, _ in targets:
        refuse_overwriting_input(target, inputs)
    if path == "-":
        if fmt.binary and sys.stdout.isatty():
            raise MotionkitError(f"refusing to write binary {fmt.name} to a terminal "
                                 "(redirect it, pipe it, or give -o FILE)")
        data = _encode(fmt, motions, options, "-")
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return ["-"]
    with Outputs() as out:
        for target, ms in targets:
            out.add(target, _encode(fmt, ms, options, target))
    return [t for t, _ in targets]


def _encode(fmt: Format, motions: list[Motion], options: dict, target: str) -> bytes:
    """The format's bytes for ``motions``; a writer's error that names no file names the output."""
    try:
        return fmt.write(motions, options)
    except MotionkitError as e:
        if e.source is None:
            raise MotionkitError(e.message, shown(target)) from None
        raise


def refuse_overwriting_input(target: str, inputs: tuple[str, ...]):
    if target == "-" or "\0" in target:
        return
    for src in inputs:
        if src and src != "-" and os.path.exists(target) and os.path.exists(src) and os.path.samefile(src, target):
            raise MotionkitError("output is the same file as an input; refusing to overwrite it", shown(target))


class Outputs:
    """Files written all or nothing: ``add`` writes each to a temporary file beside its destination; leaving the
    block renames them all into place (or, on an error, removes them all). A destination that is a link is written
    through: the temporary file goes beside the link's target and replaces the target, the link stays. A FIFO, a
    character device or any other special file is written into directly, never replaced."""

    def __init__(self):
        self.pending: list[tuple[str, str]] = []  # (temporary file, final path)
        self.special: list[tuple[str, bytes]] = []  # (special file, data to write into it)

    def __enter__(self):
        return self

    def add(self, path: str, data: bytes):
        if "\0" in path:
            raise MotionkitError("the output's name holds a NUL byte", shown(path))
        try:
            st = os.stat(path)  # through links
        except FileNotFoundError:
            st = None
        except OSError as e:
            raise MotionkitError(f"cannot write ({e.strerror or e})", shown(path)) from None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise MotionkitError("is a directory", shown(path))
        if st is not None and not stat.S_ISREG(st.st_mode):  # a FIFO, a terminal, /dev/stdout: write into it
            self.special.append((path, data))
            return
        real = os.path.realpath(path)  # a link's target is replaced, the link stays
        directory = os.path.dirname(real)
        if not os.path.isdir(directory):
            raise MotionkitError("the folder does not exist", shown(path))
        try:
            fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(real) + ".", suffix=".tmp", dir=directory)
        except OSError as e:
            raise MotionkitError(f"cannot write ({e.strerror or e})", shown(path)) from None
        self.pending.append((tmp, real))
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(tmp, (st.st_mode & 0o7777) if st is not None else 0o666 & ~_umask())
        except OSError as e:
            raise MotionkitError(f"cannot write ({e.strerror or e})", shown(path)) from None

    def __exit__(self, kind, exc, tb):
        if kind is None:
            real = None
            try:
                for tmp, real in self.pending:
                    os.replace(tmp, real)
                for real, data in self.special:
                    with open(real, "wb") as fh:
                        fh.write(data)
            except OSError as e:
                self._clean()
                raise MotionkitError(f"cannot write ({e.strerror or e})", shown(real)) from None
        self._clean()
        return False

    def _clean(self):
        for tmp, _ in self.pending:
            if os.path.exists(tmp):
                os.unlink(tmp)


def atomic_write(path: str, data: bytes):
    """Write ``data`` to ``path`` so a reader never sees half a file (see ``Outputs``)."""
    with Outputs() as out:
        out.add(path, data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
