"""glTF 2.0 (.glb and .gltf): each motion a skinned joint hierarchy under a placement node, all in one animation.

Joint nodes carry the rest offsets (metres) and identity rest rotations; a skin with inverse bind matrices makes
DCCs build an armature. The animation has one shared time accessor (with min/max), a rotation channel per joint
(unit x,y,z,w quaternions, sign-continuous) and translation channels for the root and joints with animated
positions. motionkit's own details (source units, channel layout, end sites) ride in the placement node's
``extras`` so reading our own file back restores the motion exactly; other skinned glTF files read too.
"""
from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pygltflib as g

from motionkit import Format, anatomy, hookimpl
from motionkit import rotations as rot
from motionkit.errors import MotionkitError
from motionkit.motion import Motion, Skeleton

_FLOAT = g.FLOAT


class _Builder:
    """Packs numpy arrays into one buffer and makes accessors for them."""

    def __init__(self, gltf: g.GLTF2):
        self.gltf = gltf
        self.blob = bytearray()

    def add(self, array: np.ndarray, kind: str, minmax: bool = False) -> int:
        array = np.ascontiguousarray(array, dtype=np.float32)
        while len(self.blob) % 4:
            self.blob.append(0)
        offset = len(self.blob)
        self.blob.extend(array.tobytes())
        self.gltf.bufferViews.append(g.BufferView(buffer=0, byteOffset=offset, byteLength=array.nbytes))
        count = array.shape[0]
        acc = g.Accessor(bufferView=len(self.gltf.bufferViews) - 1, componentType=_FLOAT, count=count, type=kind)
        if minmax:
            flat = array.reshape(count, -1)
            acc.min = flat.min(axis=0).astype(float).tolist()
            acc.max = flat.max(axis=0).astype(float).tolist()
        self.gltf.accessors.append(acc)
        return len(self.gltf.accessors) - 1


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


def build(motions: list[Motion], options: dict | None = None) -> tuple[g.GLTF2, bytes]:
    options = options or {}
    gltf = g.GLTF2(asset=g.Asset(generator="motionkit", version="2.0"), scene=0, scenes=[g.Scene(nodes=[])])
    b = _Builder(gltf)
    scales = [options["scale"] if options.get("scale") else anatomy.guess_units(anatomy.body_height(m))[1]
              for m in motions]
    placements = options.get("placements") or default_placements(motions, scales)
    anim = g.Animation(name="motionkit", samplers=[], channels=[])
    times: dict[tuple[int, float], int] = {}
    for ci, (m, scale, place) in enumerate(zip(motions, scales, placements)):
        sk = m.skeleton
        key = (m.frames, m.fps)
        if key not in times:
            times[key] = b.add(np.arange(m.frames) / m.fps, g.SCALAR, minmax=True)
        t_acc = times[key]
        base = len(gltf.nodes) + 1  # joint j is node base + j; the placement node comes first
        extras = {"motionkit": {"unit_scale": scale, "name": m.name, "fps": m.fps, "metadata": m.metadata,
                                "channels": [list(c) for c in sk.channels],
                                "end_sites": {str(k): v.tolist() for k, v in sk.end_sites.items()}}}
        gltf.nodes.append(g.Node(name=m.name or f"character_{ci}", translation=[float(x) for x in place],
                                 children=[base], extras=extras))
        gltf.scenes[0].nodes.append(base - 1)
        kids = sk.children
        for j in range(len(sk)):
            node = g.Node(name=sk.names[j], translation=[float(x) for x in sk.offsets[j] * scale])
            if kids[j]:
                node.children = [base + k for k in kids[j]]
            gltf.nodes.append(node)
        rest = sk.rest_positions() * scale + place
        ibm = np.tile(np.eye(4), (len(sk), 1, 1))
        ibm[:, :3, 3] = -rest
        # glTF matrices are column-major: transpose each before flattening.
        skin_acc = b.add(ibm.transpose(0, 2, 1).reshape(len(sk), 16), g.MAT4)
        gltf.skins.append(g.Skin(name=(m.name or f"character_{ci}") + "_skin", joints=list(range(base, base + len(sk))),
                                 skeleton=base, inverseBindMatrices=skin_acc))
        quats = rot.make_continuous(rot.normalize(m.rotations), axis=0)[..., [1, 2, 3, 0]]  # wxyz → xyzw
        for j in range(len(sk)):
            anim.samplers.append(g.AnimationSampler(input=t_acc, output=b.add(quats[:, j], g.VEC4), interpolation="LINEAR"))
            anim.channels.append(g.AnimationChannel(sampler=len(anim.samplers) - 1,
                                                    target=g.AnimationChannelTarget(node=base + j, path="rotation")))
            if j == 0 or sk.has_position(j) or not np.allclose(m.translations[:, j], sk.offsets[j], atol=1e-9, rtol=0):
                anim.samplers.append(g.AnimationSampler(input=t_acc, output=b.add(m.translations[:, j] * scale, g.VEC3),
                                                        interpolation="LINEAR"))
                anim.channels.append(g.AnimationChannel(sampler=len(anim.samplers) - 1,
                                                        target=g.AnimationChannelTarget(node=base + j, path="translation")))
    gltf.animations.append(anim)
    return gltf, bytes(b.blob)


def _plain(obj):
    """pygltflib's objects as plain JSON values, empty values left out (what
    pygltflib's own to_json writes, ~10x faster: its generic asdict dominated writing a 50-character crowd)."""
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items() if not _empty(v)}
    if hasattr(obj, "__dataclass_fields__"):
        return {name: _plain(getattr(obj, name)) for name in obj.__dataclass_fields__
                if not name.startswith("_") and not _empty(getattr(obj, name))}
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _empty(v) -> bool:
    """glTF forbids empty entities: None, [] and {} are left out."""
    return v is None or (isinstance(v, (list, tuple, dict)) and len(v) == 0)


def _json(gltf) -> bytes:
    return json.dumps(_plain(gltf), separators=(",", ":")).encode("utf-8")


def write_glb(motions: list[Motion], options: dict | None = None) -> bytes:
    gltf, blob = build(motions, options)
    gltf.buffers = [g.Buffer(byteLength=len(blob))]
    text = _json(gltf)
    text += b" " * (-len(text) % 4)
    blob = blob + b"\0" * (-len(blob) % 4)
    total = 12 + 8 + len(text) + 8 + len(blob)
    return b"".join([struct.pack("<4sII", b"glTF", 2, total), struct.pack("<I4s", len(text), b"JSON"), text,
                     struct.pack("<I4s", len(blob), b"BIN\0"), blob])


def write_gltf(motions: list[Motion], options: dict | None = None) -> bytes:
    gltf, blob = build(motions, options)
    uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode("ascii")
    gltf.buffers = [g.Buffer(byteLength=len(blob), uri=uri)]
    return _json(gltf)


# ---------------------------------------------------------------- reader

_COMPONENTS = {g.FLOAT: np.float32, g.UNSIGNED_BYTE: np.uint8, g.BYTE: np.int8, g.UNSIGNED_SHORT: np.uint16,
               g.SHORT: np.int16, g.UNSIGNED_INT: np.uint32}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def _load(data: bytes, source: str) -> tuple[g.GLTF2, list[bytes]]:
    try:
        if data[:4] == b"glTF":
            gltf = g.GLTF2.load_from_bytes(data)
            blobs = [gltf.binary_blob() or b""]
        else:
            gltf = g.GLTF2.from_json(data.decode("utf-8"))
            blobs = []
    except Exception as e:  # pygltflib raises anything from struct.error to KeyError on junk
        raise MotionkitError(f"not a readable glTF file ({type(e).__name__})", source) from None
    if data[:4] != b"glTF":
        for buf in gltf.buffers:
            uri = buf.uri or ""
            if not uri.startswith("data:"):
                raise MotionkitError(f"external buffer {uri!r} is not supported (embed it, or use .glb)", source)
            blobs.append(base64.b64decode(uri.split(",", 1)[1]))
    return gltf, blobs


def _accessor(gltf: g.GLTF2, blobs: list[bytes], index: int, source: str) -> np.ndarray:
    acc = gltf.accessors[index]
    if acc.sparse is not None or acc.bufferView is None:
        raise MotionkitError("sparse or buffer-less accessors are not supported", source)
    view = gltf.bufferViews[acc.bufferView]
    dtype = np.dtype(_COMPONENTS[acc.componentType]).newbyteorder("<")
    width = _WIDTH[acc.type]
    stride = view.byteStride or dtype.itemsize * width
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    blob = blobs[view.buffer]
    need = start + stride * (acc.count - 1) + dtype.itemsize * width
    if need > len(blob):
        raise MotionkitError("an accessor points past the end of its buffer (truncated file?)", source)
    raw = np.lib.stride_tricks.as_strided(np.frombuffer(blob, dtype=np.uint8, offset=start),
                                          shape=(acc.count, dtype.itemsize * width), strides=(stride, 1))
    out = np.frombuffer(np.ascontiguousarray(raw).tobytes(), dtype=dtype).reshape(acc.count, width).astype(np.float64)
    if acc.normalized and dtype.kind in "iu":
        out = out / np.iinfo(dtype).max
    return out


def _sample(times: np.ndarray, values: np.ndarray, at: np.ndarray, interpolation: str, quat: bool) -> np.ndarray:
    if interpolation == "CUBICSPLINE":
        values = values.reshape(len(times), 3, -1)[:, 1]
    idx = np.clip(np.searchsorted(times, at, side="right") - 1, 0, len(times) - 1)
    nxt = np.minimum(idx + 1, len(times) - 1)
    span = np.where(nxt > idx, times[nxt] - times[idx], 1.0)
    w = np.clip((at - times[idx]) / span, 0.0, 1.0)
    if interpolation == "STEP":
        w = np.zeros_like(w)
    if quat:
        return rot.slerp(values[idx], values[nxt], w)
    return values[idx] * (1 - w)[:, None] + values[nxt] * w[:, None]


def _trs_matrix(node: g.Node) -> np.ndarray:
    if node.matrix:
        return np.array(node.matrix, dtype=np.float64).reshape(4, 4).T
    m = np.eye(4)
    r = node.rotation or [0, 0, 0, 1]
    m[:3, :3] = rot.to_matrix(np.array([r[3], r[0], r[1], r[2]])) * np.array(node.scale or [1, 1, 1])
    m[:3, 3] = node.translation or [0, 0, 0]
    return m


def read(data: bytes, source: str = "-") -> list[Motion]:
    gltf, blobs = _load(data, source)
    if not gltf.skins:
        raise MotionkitError("the glTF file has no skin (no skeleton to read)", source)
    parent = {c: i for i, n in enumerate(gltf.nodes) for c in (n.children or [])}
    anim = gltf.animations[0] if gltf.animations else None
    tracks: dict[tuple[int, str], tuple[np.ndarray, np.ndarray, str]] = {}
    if anim is not None:
        for ch in anim.channels:
            if ch.target.node is None or ch.target.path not in ("rotation", "translation"):
                continue
            s = anim.samplers[ch.sampler]
            tracks[(ch.target.node, ch.target.path)] = (_accessor(gltf, blobs, s.input, source)[:, 0],
                                                       _accessor(gltf, blobs, s.output, source), s.interpolation or "LINEAR")
    return [_read_skin(gltf, skin, parent, tracks, source) for skin in gltf.skins]


def _read_skin(gltf, skin, parent, tracks, source) -> Motion:
    joints = set(skin.joints)
    roots = [j for j in skin.joints if parent.get(j) not in joints]
    if len(roots) != 1:
        raise MotionkitError(f"skin {skin.name!r} has {len(roots)} root joints; motionkit needs one", source)
    order: list[int] = []
    stack = [roots[0]]
    while stack:  # parents first
        n = stack.pop()
        order.append(n)
        stack.extend(reversed([c for c in (gltf.nodes[n].children or []) if c in joints]))
    if len(order) != len(joints):
        raise MotionkitError(f"skin {skin.name!r} joints do not form one hierarchy", source)
    index = {n: k for k, n in enumerate(order)}
    holder = gltf.nodes[parent[roots[0]]] if roots[0] in parent else None
    ours = (holder.extras or {}).get("motionkit") if holder is not None and isinstance(holder.extras, dict) else None
    # Sample every track on one clock: our own files carry their fps; others get the keys' median spacing.
    key_times = [t for (n, _), (t, _, _) in tracks.items() if n in joints]
    if ours:
        fps = float(ours["fps"])
    elif key_times and max(len(t) for t in key_times) > 1:
        longest = max(key_times, key=len)
        fps = float(round(1.0 / np.median(np.diff(longest)), 3))
    else:
        fps = 30.0
    t0 = min((t[0] for t in key_times), default=0.0)
    t1 = max((t[-1] for t in key_times), default=0.0)
    frames = int(round((t1 - t0) * fps)) + 1
    at = t0 + np.arange(frames) / fps
    rotations = np.empty((frames, len(order), 4))
    translations = np.empty((frames, len(order), 3))
    offsets = np.zeros((len(order), 3))
    for k, n in enumerate(order):
        node = gltf.nodes[n]
        if node.matrix:
            m = _trs_matrix(node)
            t_rest, q_rest = m[:3, 3], rot.from_matrix(m[:3, :3] / np.cbrt(np.linalg.det(m[:3, :3])))
        else:
            r = node.rotation or [0, 0, 0, 1]
            t_rest, q_rest = np.array(node.translation or [0, 0, 0], float), np.array([r[3], r[0], r[1], r[2]], float)
        offsets[k] = t_rest
        if (n, "rotation") in tracks:
            t, v, interp = tracks[(n, "rotation")]
            rotations[:, k] = _sample(t, rot.normalize(v[:, [3, 0, 1, 2]]), at, interp, quat=True)
        else:
            rotations[:, k] = q_rest
        if (n, "translation") in tracks:
            t, v, interp = tracks[(n, "translation")]
            translations[:, k] = _sample(t, v, at, interp, quat=False)
        else:
            translations[:, k] = t_rest
    if not (np.all(np.isfinite(rotations)) and np.all(np.isfinite(translations))):
        raise MotionkitError("the animation holds NaN or infinite values", source)
    names = [gltf.nodes[n].name or f"joint_{k}" for k, n in enumerate(order)]
    parents = [index[parent[n]] if k else -1 for k, n in enumerate(order)]
    if ours:
        scale = float(ours.get("unit_scale", 1.0))
        channels = [tuple(c) for c in ours["channels"]]
        end_sites = {int(a): np.array(v) for a, v in ours.get("end_sites", {}).items()}
        name, metadata = ours.get("name", ""), ours.get("metadata", {})
    else:
        # A foreign file: bake the transforms above the root (an armature's placement, Z-up fixes) into the root.
        scale = 1.0
        above = np.eye(4)
        n = parent.get(roots[0])
        while n is not None:
            above = _trs_matrix(gltf.nodes[n]) @ above
            n = parent.get(n)
        s = float(np.cbrt(abs(np.linalg.det(above[:3, :3])))) or 1.0
        q_above = rot.from_matrix(above[:3, :3] / s)
        translations[:, 0] = rot.rotate(q_above, translations[:, 0] * s) + above[:3, 3]
        rotations[:, 0] = rot.multiply(q_above, rotations[:, 0])
        translations[:, 1:] *= s
        offsets *= s
        moving = [not np.allclose(translations[:, k], offsets[k], atol=1e-7) for k in range(len(order))]
        channels = [(("Xposition", "Yposition", "Zposition") if (k == 0 or moving[k]) else ())
                    + ("Zrotation", "Yrotation", "Xrotation") for k in range(len(order))]
        end_sites, name, metadata = {}, skin.name or "", {}
    offsets_src = offsets / scale
    # Joints without animated position keep their rest offset exactly (float32 in the file).
    for k, c in enumerate(channels):
        if not any(x.endswith("position") for x in c):
            translations[:, k] = offsets[k]
    skeleton = Skeleton(names, parents, offsets_src, channels, end_sites)
    return Motion(skeleton, rot.normalize(rotations), translations / scale, fps, name=name, metadata=metadata)


def sniff_glb(head: bytes) -> bool:
    return head[:4] == b"glTF"


def sniff_gltf(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"  # JSON; read() says so if it is not glTF


@hookimpl(tryfirst=True)  # a built-in: plugins registering the same name replace it
def register_formats(register):
    register(Format(name="glb", extensions=(".glb",), read=read, write=write_glb, sniff=sniff_glb, binary=True,
                    multiple=True, description="glTF 2.0 binary: skinned skeletons + one animation (DCCs, engines)"))
    register(Format(name="gltf", extensions=(".gltf",), read=read, write=write_gltf, sniff=sniff_gltf, binary=False,
                    multiple=True, description="glTF 2.0 JSON with the buffer embedded"))
