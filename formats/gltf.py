"""glTF 2.0 (.glb and .gltf): each motion a skinned joint hierarchy under a placement node, all in one animation.

Joint nodes carry the rest offsets (metres) and identity rest rotations; a skin with inverse bind matrices makes
DCCs build an armature. The animation has one shared time accessor (with min/max), a rotation channel (unit
x,y,z,w quaternions, sign-continuous) per joint that turns — a joint that never turns holds its one rotation on its
node instead — and translation channels for the root and joints with animated positions. Each character's keys
share one buffer view. motionkit's own details (source units, channel layout, end sites) ride in the placement
node's ``extras`` so reading our own file back restores the motion exactly; other skinned glTF files read too.
"""
from __future__ import annotations

import base64
import binascii
import json
import struct

import numpy as np

from motionkit import Format, anatomy, hookimpl, limits
from motionkit import rotations as rot
from motionkit.errors import MotionkitError
from motionkit.motion import UP_TURNS, Motion, Skeleton

_FLOAT = 5126  # componentType FLOAT


class _Builder:
    """Packs numpy arrays into one buffer and makes accessors for them (the document is plain JSON values: building
    pygltflib's objects and turning them back into JSON took most of a 50-character crowd's writing time)."""

    def __init__(self, doc: dict):
        self.doc = doc
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, array: np.ndarray, kind: str, minmax: bool = False) -> int:
        return self.add_many(np.asarray(array)[None], kind, minmax)[0]

    def add_many(self, arrays: np.ndarray, kind: str, minmax: bool = False) -> list[int]:
        """One accessor per ``arrays[k]`` (K, count, ...), all in one buffer view: a character's joints' keys are
        packed in one copy rather than one per joint."""
        arrays = np.ascontiguousarray(arrays, dtype=np.float32)
        data = arrays.tobytes()  # float32: every view and accessor stays 4-byte aligned
        self.doc["bufferViews"].append({"buffer": 0, "byteOffset": self.size, "byteLength": len(data)})
        self.parts.append(data)
        self.size += len(data)
        view = len(self.doc["bufferViews"]) - 1
        count = arrays.shape[1]
        step = arrays[0].nbytes
        out = []
        for k, array in enumerate(arrays):
            acc = {"bufferView": view, "componentType": _FLOAT, "count": count, "type": kind}
            if k:
                acc["byteOffset"] = k * step
            if minmax:
                flat = array.reshape(count, -1)
                acc["min"] = flat.min(axis=0).astype(float).tolist()
                acc["max"] = flat.max(axis=0).astype(float).tolist()
            self.doc["accessors"].append(acc)
            out.append(len(self.doc["accessors"]) - 1)
        return out

    def blob(self) -> bytes:
        return b"".join(self.parts)


def default_placements(motions: list[Motion], scales: list[float]) -> list[np.ndarray]:
    """Characters side by side along +X, spaced by the widest character's footprint plus a margin."""
    if len(motions) == 1:
        return [np.zeros(3)]
    widths = []
    for m, s in zip(motions, scales):
        wp = m.world_positions()[:, :, [0, 2]] * s
        widths.append(float(np.max(wp.max(axis=(0, 1)) - wp.min(axis=(0, 1)))))
    step = max(widths) + 0.5
    return [np.array([i * step, 0.0, 0.0]) for i in range(len(motions))]


def build(motions: list[Motion], options: dict | None = None) -> tuple[dict, bytes]:
    """The glTF document (plain JSON values, no buffers yet) and its binary buffer."""
    options = options or {}
    doc = {"asset": {"generator": "motionkit", "version": "2.0"}, "scene": 0, "scenes": [{"nodes": []}],
           "nodes": [], "skins": [], "animations": [], "accessors": [], "bufferViews": []}
    b = _Builder(doc)
    units: dict[int, float] = {}  # one guess per skeleton (a crowd's characters share theirs)
    for m in motions:
        if not options.get("scale") and id(m.skeleton) not in units:
            units[id(m.skeleton)] = anatomy.guess_units(anatomy.body_height(m))[1]
    scales = [options.get("scale") or units[id(m.skeleton)] for m in motions]
    placements = options.get("placements") or default_placements(motions, scales)
    samplers, channels = [], []
    times: dict[tuple[int, float], int] = {}
    nodes = doc["nodes"]
    for ci, (m, scale, place) in enumerate(zip(motions, scales, placements)):
        sk = m.skeleton
        key = (m.frames, m.fps)
        if key not in times:
            times[key] = b.add(np.arange(m.frames) / m.fps, "SCALAR", minmax=True)
        t_acc = times[key]
        base = len(nodes) + 1  # joint j is node base + j; the placement node comes first
        extras = {"motionkit": {"unit_scale": scale, "name": m.name, "fps": m.fps, "metadata": m.metadata,
                                "channels": [list(c) for c in sk.channels],
                                "end_sites": {str(k): v.tolist() for k, v in sk.end_sites.items()}}}
        if sk.up != "y":  # the axis the clip's own file stood on (the scene itself is +Y up, as glTF has it)
            extras["motionkit"]["up"] = sk.up
        nodes.append({"name": m.name or f"character_{ci}", "translation": [float(x) for x in place], "children": [base],
                      "extras": extras})
        doc["scenes"][0]["nodes"].append(base - 1)
        kids = sk.children
        offsets = (np.asarray(sk.offsets, dtype=float) * scale).tolist()
        for j in range(len(sk)):
            node = {"name": sk.names[j], "translation": offsets[j]}
            if kids[j]:
                node["children"] = [base + k for k in kids[j]]
            nodes.append(node)
        rest = sk.rest_positions() * scale + place
        ibm = np.tile(np.eye(4), (len(sk), 1, 1))
        ibm[:, :3, 3] = -rest
        # glTF matrices are column-major: transpose each before flattening.
        skin_acc = b.add(ibm.transpose(0, 2, 1).reshape(len(sk), 16), "MAT4")
        doc["skins"].append({"name": (m.name or f"character_{ci}") + "_skin", "joints": list(range(base, base + len(sk))),
                             "skeleton": base, "inverseBindMatrices": skin_acc})
        # A joint whose rotation never changes (a sample's unmodelled fingers) holds it on its node, not in a
        # channel: the file gets smaller and quicker to write and play, and reads back the same.
        t, nj = m.rotations.shape[:2]  # (reductions over one axis at a time: numpy's over (0, 2) are 8x slower)
        still = (m.rotations == m.rotations[:1]).reshape(t, -1).all(axis=0).reshape(nj, 4).all(axis=1)
        animated = np.flatnonzero(~still)
        for j in np.flatnonzero(still):
            q = rot.normalize(m.rotations[0, j])
            nodes[base + j]["rotation"] = [float(q[1]), float(q[2]), float(q[3]), float(q[0])]  # wxyz → xyzw
        quats = rot.make_continuous(rot.normalize(m.rotations[:, animated]), axis=0)[..., [1, 2, 3, 0]]
        quats = quats.transpose(1, 0, 2)  # (J, T, 4): each joint's keys together
        moving = np.abs(m.translations - sk.offsets).reshape(t, -1).max(axis=0).reshape(nj, 3).max(axis=1) > 1e-9
        for j, acc in zip(animated, b.add_many(quats, "VEC4") if len(animated) else []):
            samplers.append({"input": t_acc, "output": acc, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": base + j, "path": "rotation"}})
        placed = [j for j in range(len(sk)) if j == 0 or moving[j] or sk.has_position(j)]
        trans = np.ascontiguousarray(m.translations[:, placed].transpose(1, 0, 2) * scale)
        for j, acc in zip(placed, b.add_many(trans, "VEC3")):
            samplers.append({"input": t_acc, "output": acc, "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": base + j, "path": "translation"}})
    doc["animations"].append({"name": "motionkit", "samplers": samplers, "channels": channels})
    for key in ("skins", "animations", "accessors", "bufferViews"):  # glTF forbids empty arrays
        if not doc[key]:
            del doc[key]
    return doc, b.blob()


def _plain(value):
    """numpy values that reach the document through a motion's metadata, as JSON values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _json(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":"), default=_plain).encode("utf-8")


def write_glb(motions: list[Motion], options: dict | None = None) -> bytes:
    doc, blob = build(motions, options)
    doc["buffers"] = [{"byteLength": len(blob)}]
    text = _json(doc)
    text += b" " * (-len(text) % 4)
    blob = blob + b"\0" * (-len(blob) % 4)
    total = 12 + 8 + len(text) + 8 + len(blob)
    return b"".join([struct.pack("<4sII", b"glTF", 2, total), struct.pack("<I4s", len(text), b"JSON"), text,
                     struct.pack("<I4s", len(blob), b"BIN\0"), blob])


def write_gltf(motions: list[Motion], options: dict | None = None) -> bytes:
    doc, blob = build(motions, options)
    uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode("ascii")
    doc["buffers"] = [{"byteLength": len(blob), "uri": uri}]
    return _json(doc)


# ---------------------------------------------------------------- reader
# The reader works on the JSON itself and checks every index, count, offset, stride, type and number it uses
# before it uses it: a crafted file gets one line, never a crash, a hang or a huge allocation.

_COMPONENTS = {5126: np.float32, 5121: np.uint8, 5120: np.int8, 5123: np.uint16, 5122: np.int16, 5125: np.uint32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
_INTERPOLATIONS = ("LINEAR", "STEP", "CUBICSPLINE")


class _Doc:
    """The glTF JSON with checked access: every lookup that could be out of range or of the wrong type says so."""

    def __init__(self, doc, blobs: list[bytes], source: str):
        if not isinstance(doc, dict):
            raise MotionkitError("not a glTF file (the JSON is not an object)", source)
        self.doc, self.blobs, self.source = doc, blobs, source

    def fail(self, message: str):
        raise MotionkitError(message, self.source)

    def list(self, key: str, within=None) -> list:
        value = (self.doc if within is None else within).get(key, [])
        if not isinstance(value, list):
            self.fail(f"'{key}' is not a list")
        return value

    def item(self, key: str, index):
        items = self.list(key)
        if not _is_int(index) or not 0 <= index < len(items):
            self.fail(f"{key} index {index!r} is out of range (the file has {len(items)})")
        if not isinstance(items[index], dict):
            self.fail(f"{key}[{index}] is not an object")
        return items[index]

    def int(self, obj: dict, key: str, default=None, low: int = 0) -> int:
        value = obj.get(key, default)
        if not _is_int(value) or value < low:
            self.fail(f"'{key}' must be a whole number ≥ {low}, found {value!r}")
        return value

    def numbers(self, value, n: int, what: str) -> np.ndarray:
        if not isinstance(value, list) or len(value) != n or not all(_is_number(v) for v in value):
            self.fail(f"{what} must be {n} numbers")
        out = np.array(value, dtype=np.float64)
        if not np.all(np.isfinite(out)) or np.abs(out).max(initial=0) > 1e15:
            self.fail(f"{what} holds a number that is not finite or beyond 1e15")
        return out

    def accessor(self, index) -> np.ndarray:
        acc = self.item("accessors", index)
        if acc.get("sparse") is not None or acc.get("bufferView") is None:
            self.fail("sparse or buffer-less accessors are not supported")
        view = self.item("bufferViews", acc["bufferView"])
        kind = acc.get("componentType")
        if not _is_int(kind) or kind not in _COMPONENTS:
            self.fail(f"accessor {index}: unknown componentType {kind!r}")
        if not isinstance(acc.get("type"), str) or acc["type"] not in _WIDTH:
            self.fail(f"accessor {index}: unknown type {acc.get('type')!r}")
        dtype = np.dtype(_COMPONENTS[kind]).newbyteorder("<")
        width = _WIDTH[acc["type"]]
        element = dtype.itemsize * width
        count = self.int(acc, "count", low=1)
        buffer = self.int(view, "buffer")
        if buffer >= len(self.blobs):
            self.fail(f"bufferView {acc['bufferView']}: buffer {buffer} does not exist")
        blob = self.blobs[buffer]
        view_start, view_length = self.int(view, "byteOffset", 0), self.int(view, "byteLength", low=1)
        if view_start + view_length > len(blob):
            self.fail(f"bufferView {acc['bufferView']} runs past the end of its buffer (truncated file?)")
        stride = self.int(view, "byteStride", element, low=1)
        if stride < element or stride % dtype.itemsize or stride > 252 and stride != element:
            self.fail(f"bufferView {acc['bufferView']}: byteStride {stride} does not fit {element}-byte elements")
        start = self.int(acc, "byteOffset", 0)
        if start + stride * (count - 1) + element > view_length:
            self.fail(f"accessor {index} runs past the end of its bufferView (truncated file?)")
        raw = np.frombuffer(blob, dtype=np.uint8, count=view_length, offset=view_start)[start:]
        rows = np.lib.stride_tricks.as_strided(raw, shape=(count, element), strides=(stride, 1), writeable=False)
        with np.errstate(all="ignore"):
            out = np.frombuffer(np.ascontiguousarray(rows).tobytes(), dtype=dtype).reshape(count, width).astype(float)
        if acc.get("normalized") and dtype.kind in "iu":
            out = out / np.iinfo(dtype).max
        if not np.all(np.isfinite(out)):
            self.fail(f"accessor {index} holds NaN or infinite values")
        return out


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _load(data: bytes, source: str) -> _Doc:
    if data[:4] == b"glTF":
        if len(data) < 20:
            raise MotionkitError("truncated glTF binary (no header)", source)
        _, version, length = struct.unpack_from("<4sII", data, 0)
        if version != 2:
            raise MotionkitError(f"glTF binary version {version}: motionkit reads version 2", source)
        if length > len(data) or length < 20:
            raise MotionkitError(f"the glTF binary says {length} bytes, the file has {len(data)} (truncated?)", source)
        chunks, offset = [], 12
        while offset + 8 <= length:
            size, kind = struct.unpack_from("<I4s", data, offset)
            if offset + 8 + size > length:
                raise MotionkitError("a glTF binary chunk runs past the end of the file (truncated?)", source)
            chunks.append((kind, data[offset + 8:offset + 8 + size]))
            offset += 8 + size + (-size % 4)
        if not chunks or chunks[0][0] != b"JSON":
            raise MotionkitError("the glTF binary does not start with its JSON chunk", source)
        text, blobs = chunks[0][1], [c for k, c in chunks[1:2] if k == b"BIN\0"]
    else:
        text, blobs = data, None
    try:
        doc = json.loads(text.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise MotionkitError(f"not a readable glTF file ({type(e).__name__})", source) from None
    d = _Doc(doc, [], source)
    if blobs is None:  # .gltf: every buffer embedded as a data URI
        blobs = []
        for buf in d.list("buffers"):
            uri = buf.get("uri") if isinstance(buf, dict) else None
            if not isinstance(uri, str) or not uri.startswith("data:"):
                raise MotionkitError(f"external buffer {str(uri)[:60]!r} is not supported (embed it, or use .glb)",
                                     source)
            head, comma, payload = uri.partition(",")
            if not comma or not head.endswith(";base64"):
                raise MotionkitError("a buffer's data URI is not base64 (data:...;base64,...)", source)
            if len(payload) * 3 // 4 > limits.limit("MOTIONKIT_MAX_BYTES"):
                raise MotionkitError("an embedded buffer is larger than motionkit reads", source)
            try:
                blobs.append(base64.b64decode(payload, validate=True))
            except (binascii.Error, ValueError):
                raise MotionkitError("a buffer's data URI holds bad base64", source) from None
    d.blobs = blobs
    return d


def _sample(times: np.ndarray, values: np.ndarray, at: np.ndarray, interpolation: str, quat: bool) -> np.ndarray:
    if interpolation == "CUBICSPLINE":
        values = values.reshape(len(times), 3, -1)[:, 1]
    idx = np.clip(np.searchsorted(times, at, side="right") - 1, 0, len(times) - 1)
    nxt = np.minimum(idx + 1, len(times) - 1)
    span = np.where(nxt > idx, times[nxt] - times[idx], 1.0)
    w = np.clip((at - times[idx]) / np.where(span > 0, span, 1.0), 0.0, 1.0)
    if interpolation == "STEP":
        w = np.zeros_like(w)
    if quat:
        return rot.slerp(values[idx], values[nxt], w)
    return values[idx] * (1 - w)[:, None] + values[nxt] * w[:, None]


def _trs(d: _Doc, node: dict, what: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(translation, rotation wxyz, uniform scale) of a node (a matrix is decomposed)."""
    if node.get("matrix") is not None:
        m = d.numbers(node["matrix"], 16, f"{what}'s matrix").reshape(4, 4).T
        det = float(np.linalg.det(m[:3, :3]))
        if abs(det) < 1e-12:
            d.fail(f"{what}'s matrix is singular")
        s = float(np.cbrt(abs(det)))
        return m[:3, 3], rot.from_matrix(m[:3, :3] / s), s
    t = d.numbers(node.get("translation", [0, 0, 0]), 3, f"{what}'s translation")
    r = d.numbers(node.get("rotation", [0, 0, 0, 1]), 4, f"{what}'s rotation")
    if np.linalg.norm(r) < 1e-9:
        d.fail(f"{what}'s rotation is not a rotation (zero quaternion)")
    sc = d.numbers(node.get("scale", [1, 1, 1]), 3, f"{what}'s scale")
    if np.any(np.abs(sc) < 1e-12):
        d.fail(f"{what}'s scale is zero")
    return t, rot.normalize(np.array([r[3], r[0], r[1], r[2]])), float(np.cbrt(abs(np.prod(sc))))


def read(data: bytes, source: str = "-") -> list[Motion]:
    d = _load(data, source)
    skins = d.list("skins")
    if not skins:
        raise MotionkitError("the glTF file has no skin (no skeleton to read)", source)
    nodes = d.list("nodes")
    parent: dict[int, int] = {}
    for i in range(len(nodes)):
        for c in d.list("children", d.item("nodes", i)):
            if not _is_int(c) or not 0 <= c < len(nodes) or c == i:
                d.fail(f"node {i} lists a child {c!r} that is not another node")
            if c in parent:
                d.fail(f"node {c} has two parents: the nodes do not form a tree")
            parent[c] = i
    for i in range(len(nodes)):  # no cycles: every chain of parents ends
        seen, n = set(), i
        while n in parent:
            if n in seen:
                d.fail("the nodes' children form a cycle")
            seen.add(n)
            n = parent[n]
    tracks: dict[tuple[int, str], tuple[np.ndarray, np.ndarray, str]] = {}
    animations = d.list("animations")
    if animations:
        anim = d.item("animations", 0)
        samplers = d.list("samplers", anim)
        for ch in d.list("channels", anim):
            target = ch.get("target") if isinstance(ch, dict) else None
            if not isinstance(target, dict) or target.get("path") not in ("rotation", "translation"):
                continue
            node = target.get("node")
            if not _is_int(node) or not 0 <= node < len(nodes):
                d.fail(f"an animation channel targets node {node!r}, which does not exist")
            sampler = ch.get("sampler")
            if not _is_int(sampler) or not 0 <= sampler < len(samplers) or not isinstance(samplers[sampler], dict):
                d.fail(f"an animation channel uses sampler {sampler!r}, which does not exist")
            s = samplers[sampler]
            interp = s.get("interpolation", "LINEAR")
            if interp not in _INTERPOLATIONS:
                d.fail(f"unknown interpolation {interp!r}")
            times = d.accessor(s.get("input"))[:, 0]
            values = d.accessor(s.get("output"))
            width = 4 if target["path"] == "rotation" else 3
            if values.shape != ((3 if interp == "CUBICSPLINE" else 1) * len(times), width):
                d.fail(f"an animation's {target['path']} values do not match its {len(times)} key times")
            if np.any(np.diff(times) < 0):
                d.fail("an animation's key times go backwards")
            tracks[(node, target["path"])] = (times, values, interp)
    return [_read_skin(d, k, parent, tracks) for k in range(len(skins))]


def _read_skin(d: _Doc, k: int, parent: dict[int, int], tracks) -> Motion:
    skin = d.item("skins", k)
    nodes = d.list("nodes")
    joints_list = d.list("joints", skin)
    if not joints_list or not all(_is_int(j) and 0 <= j < len(nodes) for j in joints_list):
        d.fail(f"skin {k} lists joints that are not nodes")
    joints = set(joints_list)
    limits.check_motion_size(1, len(joints), d.source)
    roots = [j for j in joints_list if parent.get(j) not in joints]
    if len(roots) != 1 or len(joints) != len(joints_list):
        d.fail(f"skin {k} has {len(roots)} root joints (or a joint twice); motionkit needs one tree")
    order: list[int] = []
    stack = [roots[0]]
    while stack:  # parents first (the nodes form a tree: checked)
        n = stack.pop()
        order.append(n)
        stack.extend(reversed([c for c in d.list("children", nodes[n]) if c in joints]))
    if len(order) != len(joints):
        d.fail(f"skin {k}'s joints do not form one hierarchy")
    index = {n: i for i, n in enumerate(order)}
    holder = nodes[parent[roots[0]]] if roots[0] in parent else None
    extras = holder.get("extras") if isinstance(holder, dict) else None
    ours = extras.get("motionkit") if isinstance(extras, dict) else None
    if ours is not None and not isinstance(ours, dict):
        d.fail("the motionkit extras are not an object")
    # Sample every track on one clock: our own files carry their fps; others get the keys' median spacing.
    key_times = [t for (n, _), (t, _, _) in tracks.items() if n in joints]
    if ours:
        fps = limits.check_fps(ours.get("fps"), d.source, "the extras' fps")
    elif key_times and max(len(t) for t in key_times) > 1:
        steps = np.diff(max(key_times, key=len))
        steps = steps[steps > 0]
        fps = limits.check_fps(round(1.0 / np.median(steps), 3) if len(steps) else 30.0, d.source,
                               "the keys' frame rate")
    else:
        fps = 30.0
    t0 = min((t[0] for t in key_times), default=0.0)
    t1 = max((t[-1] for t in key_times), default=0.0)
    span = (t1 - t0) * fps
    if not span < limits.limit("MOTIONKIT_MAX_FRAMES"):
        d.fail(f"the animation lasts {t1 - t0:g} s: {span:.0f} frames at {fps:g} fps is more than motionkit reads")
    frames = int(round(span)) + 1
    limits.check_motion_size(frames, len(order), d.source)
    at = t0 + np.arange(frames) / fps
    rotations = np.empty((frames, len(order), 4))
    translations = np.empty((frames, len(order), 3))
    offsets = np.zeros((len(order), 3))
    for i, n in enumerate(order):
        t_rest, q_rest, _ = _trs(d, nodes[n], f"node {n}")
        offsets[i] = t_rest
        if (n, "rotation") in tracks:
            t, v, interp = tracks[(n, "rotation")]
            q = v[:, [3, 0, 1, 2]]
            if np.any(np.linalg.norm(q, axis=-1) < 1e-9):
                d.fail(f"node {n}'s rotation keys hold a zero quaternion")
            rotations[:, i] = _sample(t, rot.normalize(q), at, interp, quat=True)
        else:
            rotations[:, i] = q_rest
        if (n, "translation") in tracks:
            t, v, interp = tracks[(n, "translation")]
            translations[:, i] = _sample(t, v, at, interp, quat=False)
        else:
            translations[:, i] = t_rest
    if not (np.all(np.isfinite(rotations)) and np.all(np.isfinite(translations))):
        d.fail("the animation holds NaN or infinite values")
    names = [nodes[n].get("name") if isinstance(nodes[n].get("name"), str) else f"joint_{i}"
             for i, n in enumerate(order)]
    parents = [index[parent[n]] if i else -1 for i, n in enumerate(order)]
    if ours:
        scale = limits.check_scale(ours.get("unit_scale", 1.0), d.source, "the extras' unit_scale")
        channels = ours.get("channels")
        if (not isinstance(channels, list) or len(channels) != len(order) or not all(
                isinstance(c, list) and len(c) <= 6 and len(set(map(str, c))) == len(c)
                and all(isinstance(x, str) and x in _CHANNEL_NAMES for x in c) for c in channels)):
            d.fail("the extras' channels do not describe this skeleton")
        channels = [tuple(c) for c in channels]
        raw_ends = ours.get("end_sites", {})
        if not isinstance(raw_ends, dict):
            d.fail("the extras' end_sites are not an object")
        end_sites = {}
        for key, v in raw_ends.items():
            if not (isinstance(key, str) and key.isdigit() and int(key) < len(order)):
                d.fail(f"the extras name an end site for joint {key!r}, which does not exist")
            end_sites[int(key)] = d.numbers(v, 3, "an end site")
        name, metadata = ours.get("name", ""), ours.get("metadata", {})
        if not isinstance(name, str) or not isinstance(metadata, dict):
            d.fail("the extras' name or metadata have the wrong type")
        up = ours.get("up", "y")
        if not isinstance(up, str) or up not in UP_TURNS:
            d.fail("the extras' up axis is not one of " + ", ".join(UP_TURNS))
    else:
        # A foreign file: bake the transforms above the root (an armature's placement, Z-up fixes) into the root.
        scale = 1.0
        above = np.eye(4)
        n = parent.get(roots[0])
        while n is not None:
            t, q, s_ = _trs(d, nodes[n], f"node {n}")
            m = np.eye(4)
            m[:3, :3] = rot.to_matrix(q) * s_
            m[:3, 3] = t
            above = m @ above
            n = parent.get(n)
        s = float(np.cbrt(abs(np.linalg.det(above[:3, :3])))) or 1.0
        q_above = rot.from_matrix(above[:3, :3] / s)
        translations[:, 0] = rot.rotate(q_above, translations[:, 0] * s) + above[:3, 3]
        rotations[:, 0] = rot.multiply(q_above, rotations[:, 0])
        translations[:, 1:] *= s
        offsets *= s
        moving = [not np.allclose(translations[:, i], offsets[i], atol=1e-7) for i in range(len(order))]
        channels = [(("Xposition", "Yposition", "Zposition") if (i == 0 or moving[i]) else ())
                    + ("Zrotation", "Yrotation", "Xrotation") for i in range(len(order))]
        end_sites, name = {}, skin.get("name") if isinstance(skin.get("name"), str) else ""
        metadata, up = {}, "y"
    offsets_src = offsets / scale
    if np.abs(translations).max() / scale > 1e15 or np.abs(offsets_src).max() > 1e15:
        d.fail("the skeleton or animation holds lengths beyond 1e15 units")
    # Joints without animated position keep their rest offset exactly (float32 in the file).
    for i, c in enumerate(channels):
        if not any(x.endswith("position") for x in c):
            translations[:, i] = offsets[i]
    skeleton = Skeleton(names, parents, offsets_src, channels, end_sites, up)
    return Motion(skeleton, rot.normalize(rotations), translations / scale, fps, name=name, metadata=metadata)


_CHANNEL_NAMES = {"Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation"}


def sniff_glb(head: bytes) -> bool:
    return head[:4] == b"glTF"


def sniff_gltf(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"  # JSON; read() says so if it is not glTF


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_formats(register):
    register(Format(name="glb", extensions=(".glb",), read=read, write=write_glb, sniff=sniff_glb, binary=True,
                    multiple=True, y_up=True, description="glTF 2.0 binary: skinned skeletons + one animation (DCCs, engines)"))
    register(Format(name="gltf", extensions=(".gltf",), read=read, write=write_gltf, sniff=sniff_gltf, binary=False,
                    multiple=True, y_up=True, description="glTF 2.0 JSON with the buffer embedded"))
