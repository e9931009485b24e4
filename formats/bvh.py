"""BVH (Biovision hierarchy): our own numpy reader and writer.

Reads any rotation channel order per joint, 3- or 6-channel joints (position channels replace the OFFSET on
their axis), End Sites, CRLF/tabs/scientific notation; snaps a rounded Frame Time (0.016667) to the exact rate.
Writes names, hierarchy, channel orders and end sites back as they came.
"""
from __future__ import annotations

import numpy as np

from motionkit import Format, hookimpl, limits
from motionkit import rotations as rot
from motionkit.errors import MotionkitError
from motionkit.motion import POSITION_CHANNELS, ROTATION_CHANNELS, Motion, Skeleton

_VALID_CHANNELS = set(POSITION_CHANNELS + ROTATION_CHANNELS)
_END = -2  # stack marker for an open End Site block


def snap_frame_time(frame_time: float) -> float:
    """The frame rate for a Frame Time, snapped to a whole rate when the file rounded it (0.016667 → 60)."""
    fps = 1.0 / frame_time
    whole = round(fps)
    if whole > 0 and abs(frame_time * whole - 1.0) < 1e-4:
        return float(whole)
    return fps


def _decode(data: bytes, source: str) -> str:
    if not data.strip():
        raise MotionkitError("empty file", source)
    if b"\x00" in data[:4096]:
        raise MotionkitError("not a BVH file (binary data)", source)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _number(tok: str, source: str, line: int, what: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise MotionkitError(f"expected a number for {what}, found {tok!r}", source, line) from None
    if not np.isfinite(v):
        raise MotionkitError(f"{what} is not finite ({tok})", source, line)
    if abs(v) > 1e15:
        raise MotionkitError(f"{what} is beyond ±1e15 ({tok})", source, line)
    return v


def _parse_hierarchy(lines: list[str], source: str):
    """Returns (names, parents, offsets, channels, end_sites, index of the MOTION line)."""
    names, parents, offsets, channels, end_sites = [], [], [], [], {}
    stack: list[int] = []
    toks = []
    line_end = {}  # line number → index one past its last token
    for n, line in enumerate(lines):
        if line.lstrip()[:6].upper() == "MOTION":
            toks.append(("MOTION", n + 1))  # the hierarchy ends here; frame lines are not tokenised
            break
        toks.extend((t, n + 1) for t in line.split())
        line_end[n + 1] = len(toks)
    # Names may contain spaces: ROOT/JOINT take the rest of their line (minus a trailing '{').
    i = 0
    seen_header = False
    closed = False

    def need(k: int):
        if i + k >= len(toks):
            raise MotionkitError("unexpected end of file in the HIERARCHY section (truncated file?)", source,
                                 toks[-1][1] if toks else None)

    while i < len(toks):
        tok, ln = toks[i]
        key = tok.upper()
        if not seen_header:
            if key != "HIERARCHY":
                raise MotionkitError(f"not a BVH file (expected HIERARCHY, found {tok[:40]!r})", source, ln)
            seen_header = True
            i += 1
            continue
        if closed:
            if key == "MOTION":
                return names, parents, offsets, channels, end_sites, ln - 1
            if key == "ROOT":
                raise MotionkitError("more than one ROOT: motionkit reads files with a single skeleton", source, ln)
            raise MotionkitError(f"expected MOTION after the hierarchy, found {tok[:40]!r}", source, ln)
        if key in ("ROOT", "JOINT"):
            if (key == "ROOT") != (not stack and not names):
                raise MotionkitError(f"{tok} in the wrong place", source, ln)
            rest = [t for t, _ in toks[i + 1:line_end[ln]]]
            brace_inline = bool(rest) and rest[-1] == "{"
            name_parts = rest[:-1] if brace_inline else rest
            if not name_parts:
                raise MotionkitError(f"{tok} without a name", source, ln)
            i += 1 + len(rest)
            if not brace_inline:
                need(0)
                if toks[i][0] != "{":
                    raise MotionkitError(f"expected '{{' after {tok} {' '.join(name_parts)}", source, toks[i][1])
                i += 1
            if stack and stack[-1] == _END:
                raise MotionkitError("JOINT inside an End Site", source, ln)
            parents.append(stack[-1] if stack else -1)
            names.append(" ".join(name_parts))
            offsets.append(None)
            channels.append(None)
            stack.append(len(names) - 1)
        elif key == "END":
            need(2)
            if toks[i + 1][0].upper() != "SITE" or toks[i + 2][0] != "{":
                raise MotionkitError("expected 'End Site {'", source, ln)
            if not stack or stack[-1] == _END:
                raise MotionkitError("End Site outside a joint", source, ln)
            if stack[-1] in end_sites:
                raise MotionkitError("a second End Site on one joint", source, ln)
            end_sites[stack[-1]] = None
            stack.append(_END)
            i += 3
        elif key == "OFFSET":
            need(3)
            if not stack:
                raise MotionkitError("OFFSET outside a joint", source, ln)
            v = [_number(t, source, l2, "OFFSET") for t, l2 in toks[i + 1:i + 4]]
            if stack[-1] == _END:
                end_sites[stack[-2]] = v
            else:
                offsets[stack[-1]] = v
            i += 4
        elif key == "CHANNELS":
            need(1)
            if not stack or stack[-1] == _END:
                raise MotionkitError("CHANNELS outside a joint", source, ln)
            try:
                n = int(toks[i + 1][0])
            except ValueError:
                raise MotionkitError(f"bad channel count {toks[i + 1][0]!r}", source, ln) from None
            if not 0 <= n <= 6:
                raise MotionkitError(f"bad channel count {n} (0 to 6 allowed)", source, ln)
            need(1 + n)
            chans = [t for t, _ in toks[i + 2:i + 2 + n]]
            for c in chans:
                if c not in _VALID_CHANNELS:
                    raise MotionkitError(f"unknown channel name {c!r}", source, ln)
            if len(set(chans)) != len(chans):
                raise MotionkitError("a channel is listed twice", source, ln)
            channels[stack[-1]] = tuple(chans)
            i += 2 + n
        elif tok == "}":
            if not stack:
                raise MotionkitError("unbalanced '}'", source, ln)
            top = stack.pop()
            if top == _END:
                if end_sites[stack[-1]] is None:
                    raise MotionkitError("End Site without OFFSET", source, ln)
            else:
                if offsets[top] is None:
                    raise MotionkitError(f"joint {names[top]!r} has no OFFSET", source, ln)
                if channels[top] is None:
                    channels[top] = ()
            closed = not stack
            i += 1
        elif key == "MOTION":
            raise MotionkitError("MOTION before the hierarchy was closed (missing '}')", source, ln)
        else:
            raise MotionkitError(f"unexpected {tok[:40]!r} in the hierarchy", source, ln)
    if not names:
        raise MotionkitError("no ROOT joint in the hierarchy", source)
    if not closed:
        raise MotionkitError("unexpected end of file in the HIERARCHY section (truncated file?)", source, len(lines))
    raise MotionkitError("missing MOTION section", source, len(lines))


def _header_value(line: str | None, label: str, source: str, ln: int) -> str:
    if line is None:
        raise MotionkitError(f"missing '{label}' line in the MOTION section (truncated file?)", source, ln)
    head, sep, value = line.partition(":")
    if not sep or " ".join(head.split()).lower() != label.lower():
        raise MotionkitError(f"expected '{label}: …', found {line.strip()[:40]!r}", source, ln)
    return value.strip()


def read(data: bytes, source: str = "-") -> list[Motion]:
    if not data.strip():
        raise MotionkitError("empty file", source)
    if b"\x00" in data[:4096]:
        raise MotionkitError("not a BVH file (binary data)", source)
    # The hierarchy is parsed as text; the MOTION section (all but a few hundred bytes of a big file) is parsed
    # straight from the bytes, a slice at a time, so reading takes memory in proportion to the file.
    at = _find_motion(data)
    head = _decode(data[:at] if at >= 0 else data, source)
    lines = head.splitlines()
    names, parents, offsets, channels, end_sites, mline = _parse_hierarchy(lines + ["MOTION"] if at >= 0 else lines,
                                                                           source)
    if at < 0:
        raise MotionkitError("missing MOTION section", source, len(lines))
    limits.check_motion_size(1, len(names), source)
    line = len(lines) + 1  # the MOTION line
    pos = data.index(b"\n", at) + 1 if b"\n" in data[at:] else len(data)
    header = []
    while len(header) < 2 and pos < len(data):  # Frames: / Frame Time:, skipping blank lines
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        text = data[pos:end].decode("latin-1")
        line += 1
        if text.strip():
            header.append((line, text))
        pos = end + 1
    frames_s = _header_value(header[0][1] if header else None, "Frames", source, header[0][0] if header else line)
    try:
        n_frames = int(frames_s)
    except ValueError:
        raise MotionkitError(f"bad frame count {frames_s!r}", source, header[0][0]) from None
    if n_frames < 1:
        raise MotionkitError(f"the file has {n_frames} frames", source, header[0][0])
    limits.check_motion_size(n_frames, len(names), source)
    ft_s = _header_value(header[1][1] if len(header) > 1 else None, "Frame Time", source,
                         header[1][0] if len(header) > 1 else line)
    frame_time = _number(ft_s, source, header[1][0], "Frame Time")
    if not 1.0 / limits.FPS_RANGE[1] <= frame_time <= 1.0 / limits.FPS_RANGE[0]:
        raise MotionkitError(f"Frame Time {ft_s} is outside {1 / limits.FPS_RANGE[1]:g} to "
                             f"{1 / limits.FPS_RANGE[0]:g} seconds", source, header[1][0])
    fps = snap_frame_time(frame_time)
    n_chan = sum(len(c) for c in channels)
    out = _Channels(Skeleton(names, parents, offsets, channels, end_sites), n_frames)
    _frame_values(data, pos, line, n_frames, n_chan, source, out.put)
    return [out.motion(fps, source)]


def _find_motion(data: bytes) -> int:
    """Byte offset of the line that starts with MOTION (any case), or -1."""
    pos = 0
    while True:
        k = data.upper().find(b"MOTION", pos) if len(data) < 1 << 16 else _find_ci(data, b"MOTION", pos)
        if k < 0:
            return -1
        start = data.rfind(b"\n", 0, k) + 1
        if not data[start:k].strip():
            return start
        pos = k + 6


def _find_ci(data: bytes, word: bytes, pos: int) -> int:
    """Case-insensitive find of an ASCII word without copying the whole of a big file."""
    best = -1
    for variant in {word, word.lower(), word.capitalize()}:
        k = data.find(variant, pos)
        if k >= 0 and (best < 0 or k < best):
            best = k
    return best


_SLICE = 1 << 21  # bytes of frame lines parsed at a time


def _frame_values(data: bytes, pos: int, line: int, n_frames: int, n_chan: int, source: str, put):
    """The frame lines from byte ``pos`` (file line ``line`` + 1), a slice at a time: every line checked for its
    count, every value finite and within ±1e15, blank lines skipped; ``put(first_frame, values)`` takes each
    slice's (frames, n_chan) values."""
    row = 0
    while pos < len(data):
        end = data.find(b"\n", min(pos + _SLICE, len(data)))
        end = len(data) if end < 0 else end + 1
        chunk = data[pos:end]
        buf = np.frombuffer(chunk, dtype=np.uint8)
        breaks = np.flatnonzero(buf == 10)
        if len(breaks) == 0 or breaks[-1] != len(buf) - 1:
            breaks = np.append(breaks, len(buf))
        space = (buf == 32) | (buf == 9) | (buf == 13) | (buf == 10) | (buf == 11) | (buf == 12)
        starts = np.flatnonzero(~space & np.concatenate([[True], space[:-1]]))
        del space
        counts = np.bincount(np.searchsorted(breaks, starts), minlength=len(breaks))
        filled = counts > 0
        wrong = np.flatnonzero(filled & (counts != n_chan))
        if row + int(filled.sum()) > n_frames:
            extra_line = line + int(np.flatnonzero(filled)[n_frames - row]) + 1
            raise MotionkitError(f"frame-count mismatch: the header says {n_frames} frames, the file has more",
                                 source, extra_line)
        if len(wrong):
            k = int(wrong[0])
            last = end >= len(data) and k == int(np.flatnonzero(filled)[-1])
            hint = " (truncated file?)" if last and counts[k] < n_chan else ""
            raise MotionkitError(f"expected {n_chan} values on a frame line, found {counts[k]}{hint}", source,
                                 line + k + 1)
        try:
            with np.errstate(all="ignore"):
                vals = np.fromstring(chunk, dtype=np.float64, sep=" ") if n_chan else np.zeros(0)
        except ValueError:
            vals = None
        n = int(filled.sum())
        if vals is None or vals.size != n * n_chan or not np.all(np.isfinite(vals)) or \
                np.abs(vals).max(initial=0) > 1e15:
            _name_bad_value(chunk, line, source)
        put(row, vals.reshape(n, n_chan))
        row += n
        line += int(np.count_nonzero(buf == 10))
        pos = end
    if row != n_frames:
        raise MotionkitError(f"frame-count mismatch: the header says {n_frames} frames, the file has {row}"
                             + (" (truncated file?)" if row < n_frames else ""), source)
    _refuse_cut_last_value(data, source, line)


def _refuse_cut_last_value(data: bytes, source: str, line: int):
    """A file that ends inside its last number: the last line has no line break and its last value fewer decimals
    than the line's others have (a writer prints them all alike)."""
    tail = data[-4096:].rstrip(b" \t")
    if not tail or tail[-1:] in b"\r\n":
        return
    tokens = tail.rsplit(b"\n", 1)[-1].split()
    decimals = [len(t.partition(b".")[2]) for t in tokens if b"." in t and b"e" not in t.lower()]
    if len(decimals) >= 3 and len(tokens[-1].partition(b".")[2]) < int(np.median(decimals[:-1])):
        raise MotionkitError("the file ends inside its last value (truncated file?)", source, line)


def _name_bad_value(chunk: bytes, line: int, source: str):
    """The slow path, only to say which line holds a value that is not a usable number."""
    for k, text in enumerate(chunk.decode("latin-1").split("\n")):
        for tok in text.split():
            v = _number(tok, source, line + k + 1, "a channel value")
            if abs(v) > 1e15:
                raise MotionkitError(f"a channel value is beyond ±1e15 ({tok})", source, line + k + 1)
    raise MotionkitError("unreadable frame values", source, line + 1)


class _Channels:
    """Frame values to a Motion's arrays, a block of frames at a time (nothing of a long take held twice)."""

    def __init__(self, skeleton: Skeleton, frames: int):
        self.skeleton = skeleton
        self.translations = np.broadcast_to(skeleton.offsets, (frames, len(skeleton), 3)).copy()
        self.rotations = rot.identity((frames, len(skeleton)))
        self.positions: list[tuple[int, int, int]] = []  # (column, joint, axis)
        by_order: dict[str, tuple[list[int], list[list[int]]]] = {}
        col = 0
        for j, chans in enumerate(skeleton.channels):
            rot_cols = []
            for c in chans:
                if c in POSITION_CHANNELS:
                    self.positions.append((col, j, POSITION_CHANNELS.index(c)))
                else:
                    rot_cols.append(col)
                col += 1
            if rot_cols:
                joints, cols = by_order.setdefault(skeleton.rotation_order(j), ([], []))
                joints.append(j)
                cols.append(rot_cols)
        self.orders = [(order, joints, np.array(cols)) for order, (joints, cols) in by_order.items()]

    def put(self, row: int, values: np.ndarray):
        """Frames [row, row + len(values)) from their channel values."""
        stop = row + len(values)
        for col, j, axis in self.positions:
            self.translations[row:stop, j, axis] = values[:, col]
        for order, joints, cols in self.orders:  # one vectorised conversion per channel order
            self.rotations[row:stop, joints] = rot.from_euler(values[:, cols], order)

    def motion(self, fps: float, source: str) -> Motion:
        name = source.rsplit("/", 1)[-1].rsplit(".", 1)[0] if source != "-" else ""
        return Motion(self.skeleton, self.rotations, self.translations, fps, name=name)


# ---------------------------------------------------------------- writer

_DEFAULT_ROOT = POSITION_CHANNELS + ("Zrotation", "Yrotation", "Xrotation")


def _layout(motion: Motion) -> list[tuple[str, ...]]:
    """The channel layout to write: the source's, completed where the motion needs more than it has."""
    sk = motion.skeleton
    out = []
    for j, chans in enumerate(sk.channels):
        chans = tuple(chans)
        order = sk.rotation_order(j)
        still = order == "" and np.allclose(np.abs(motion.rotations[:, j, 0]), 1.0, atol=1e-9, rtol=0)
        if not still and (len(order) != 3 or len(set(order)) != 3):
            pos = tuple(c for c in chans if c in POSITION_CHANNELS)
            chans = pos + ("Zrotation", "Yrotation", "Xrotation")
        moves = not np.allclose(motion.translations[:, j], sk.offsets[j], atol=1e-9, rtol=0)
        has_pos = [c for c in chans if c in POSITION_CHANNELS]
        if moves and len(has_pos) < 3:
            chans = POSITION_CHANNELS + tuple(c for c in chans if c not in POSITION_CHANNELS)
        out.append(chans)
    return out


def _fmt(v) -> str:
    return " ".join(f"{x:.6f}" for x in v)


def write(motions: list[Motion], options: dict | None = None) -> bytes:
    if len(motions) != 1:
        raise MotionkitError(f"a BVH file holds one motion, got {len(motions)} "
                             "(write to a name with %03d in it for one file each)")
    m = motions[0].in_file_axes()  # a Z-up file's motion goes back Z-up (motionkit holds it +Y up)
    sk = m.skeleton
    layout = _layout(m)
    kids = sk.children
    out = ["HIERARCHY"]

    def emit(j: int, depth: int):
        pad = "\t" * depth
        out.append(f"{pad}{'ROOT' if j == 0 else 'JOINT'} {sk.names[j]}")
        out.append(pad + "{")
        out.append(f"{pad}\tOFFSET {_fmt(sk.offsets[j])}")
        out.append(f"{pad}\tCHANNELS {len(layout[j])} {' '.join(layout[j])}".rstrip())
        for k in kids[j]:
            emit(k, depth + 1)
        if j in sk.end_sites:
            out.extend([f"{pad}\tEnd Site", pad + "\t{", f"{pad}\t\tOFFSET {_fmt(sk.end_sites[j])}", pad + "\t}"])
        out.append(pad + "}")

    emit(0, 0)  # depth is bounded by the hierarchy the reader accepted
    out += ["MOTION", f"Frames: {m.frames}", f"Frame Time: {1.0 / m.fps:.10g}"]
    dfs, stack = [], [0]  # frame values follow the order joints appear in the hierarchy (depth first)
    while stack:
        j = stack.pop()
        dfs.append(j)
        stack.extend(reversed(kids[j]))

    cols = []
    eulers: dict[int, np.ndarray] = {}
    by_order: dict[str, list[int]] = {}
    for j, chans in enumerate(layout):
        by_order.setdefault("".join(c[0] for c in chans if c in ROTATION_CHANNELS), []).append(j)
    for order, joints in by_order.items():
        if not order:  # joints without rotation channels (they never rotate: see _layout)
            continue
        e = rot.unwrap_degrees(rot.to_euler(m.rotations[:, joints], order), axis=0)
        for k, j in enumerate(joints):
            eulers[j] = e[:, k]
    for j in dfs:
        chans = layout[j]
        order = "".join(c[0] for c in chans if c in ROTATION_CHANNELS)
        for c in chans:
            if c in POSITION_CHANNELS:
                cols.append(m.translations[:, j, POSITION_CHANNELS.index(c)])
            else:
                cols.append(eulers[j][:, order.index(c[0])])
    data = np.stack(cols, axis=1)
    line = " ".join(["%.6f"] * data.shape[1])
    body = "\n".join(line % tuple(r) for r in data.tolist())
    return ("\n".join(out) + "\n" + body + "\n").encode("ascii", "replace")


def sniff(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:9].upper() == b"HIERARCHY"


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_formats(register):
    register(Format(name="bvh", extensions=(".bvh",), read=read, write=write, sniff=sniff, binary=False,
                    multiple=False, description="Biovision hierarchy: skeleton + Euler channels, any order"))
