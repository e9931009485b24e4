"""Crafted files from good ones: the mutations a broken exporter or a hostile sender makes. Used by the fuzz tests
(tests/test_fuzz.py, a quick run) and the fuzz benchmark (bench/fuzz.py, ten thousand cases per format).

Every case must end in a ``MotionkitError`` or in motions with finite values that write and read back."""
from __future__ import annotations

import io
import json
import struct
import zipfile

import numpy as np

from motionkit.errors import MotionkitError

# Values a field may be replaced with: wrong types, out of range, huge, not finite.
ODD = [None, True, -1, 0, 1, 2, 3, 7, 255, 256, 65535, -2 ** 31, 2 ** 31, 2 ** 53, 10 ** 12, 1e300, -1e300, 1e-320,
       0.5, -0.0, float("nan"), float("inf"), float("-inf"), "", "x", "0", "LINEAR", "VEC3", "MAT4", [], [0], [1, 2, 3],
       [[1]], {}, {"a": 1}]


def paths(doc, prefix=()):
    """Every (path) to a value inside a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:64]):
            yield from paths(v, prefix + (i,))


def set_path(doc, path, value):
    if not path:
        return value
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


def mutate_json(doc, rng: np.random.Generator, n: int = 1):
    """``doc`` with ``n`` values replaced by odd ones (or a list emptied or lengthened)."""
    doc = json.loads(json.dumps(doc))
    for _ in range(n):
        all_paths = list(paths(doc))
        path = all_paths[int(rng.integers(len(all_paths)))]
        choice = rng.random()
        if choice < 0.8:
            value = ODD[int(rng.integers(len(ODD)))]
        elif choice < 0.9:  # a number nudged
            value = int(rng.integers(-3, 4)) + (int(rng.integers(0, 1000)))
        else:  # a node's children pointing at itself or its parent: cycles
            value = [int(rng.integers(0, 4))]
        doc = set_path(doc, path, value)
    return doc


def mutate_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    """A byte flip, a truncation, an insertion or a duplicated stretch."""
    b = bytearray(data)
    kind = rng.integers(4)
    if kind == 0 and b:
        for _ in range(int(rng.integers(1, 8))):
            b[int(rng.integers(len(b)))] = int(rng.integers(256))
    elif kind == 1:
        b = b[:int(rng.integers(len(b) + 1))]
    elif kind == 2:
        at = int(rng.integers(len(b) + 1))
        b[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8))
    elif b:
        a = int(rng.integers(len(b)))
        c = min(len(b), a + int(rng.integers(1, 200)))
        b[c:c] = b[a:c]
    return bytes(b)


# ---- per format ---------------------------------------------------------------------------------------------

def structural(mutator):
    """A structural mutator falls back to byte-level mutation where an earlier mutation left nothing to parse."""
    def safe(data: bytes, rng, **kw) -> bytes:
        try:
            return mutator(data, rng, **kw)
        except Exception:  # (the harness's own parse of a broken file: any failure means "bytes, then")
            return mutate_bytes(data, rng)
    safe.__name__ = mutator.__name__
    return safe


@structural
def mutate_glb(data: bytes, rng) -> bytes:
    """Structural: the JSON chunk's fields, or the chunk lengths; else bytes."""
    kind = rng.random()
    json_len = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20:20 + json_len])
    rest = data[20 + json_len:]
    if kind < 0.6:
        text = json.dumps(mutate_json(doc, rng, int(rng.integers(1, 4)))).encode()
        text += b" " * (-len(text) % 4)
        body = struct.pack("<I4s", len(text), b"JSON") + text + rest
        return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body
    if kind < 0.8:
        b = bytearray(data)
        field = [8, 12, 20 + json_len][int(rng.integers(3))]
        if field + 4 <= len(b):
            struct.pack_into("<I", b, field, int(rng.choice([0, 1, 7, 2 ** 31, 2 ** 32 - 1, len(b), len(b) + 8])))
        return bytes(b)
    return mutate_bytes(data, rng)


@structural
def mutate_gltf(data: bytes, rng) -> bytes:
    if rng.random() < 0.75:
        doc = json.loads(data)
        if rng.random() < 0.15:  # a data URI broken
            uri = doc["buffers"][0]["uri"]
            doc["buffers"][0]["uri"] = rng.choice([uri.replace(",", ""), uri[:len(uri) // 2] + "!!!", "data:,",
                                                   "file.bin", uri.replace(";base64", "")])
            return json.dumps(doc).encode()
        return json.dumps(mutate_json(doc, rng, int(rng.integers(1, 4)))).encode()
    return mutate_bytes(data, rng)


def _npz_parts(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _npz(arrays: dict, compressed: bool = True) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


@structural
def mutate_npz(data: bytes, rng, compress: bool | None = None) -> bytes:
    """The JSON header's fields, an array's shape or type, a huge declared array, or bytes."""
    kind = rng.random()
    if kind < 0.85:
        arrays = _npz_parts(data)
        if kind < 0.55:
            header = json.loads(arrays["header"].tobytes())
            header = mutate_json(header, rng, int(rng.integers(1, 4)))
            arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        else:
            name = [k for k in arrays if k != "header"][int(rng.integers(len(arrays) - 1))]
            a = arrays[name]
            arrays[name] = rng.choice([a[:1], a.reshape(-1), a.astype(np.float32), a[..., :2], a * np.inf,
                                       np.zeros((0,) + a.shape[1:]), a.astype(np.int64), np.full(a.shape, np.nan)])
        return _npz(arrays, compressed=bool(rng.integers(2)) if compress is None else compress)
    if kind < 0.9:  # a member whose npy header declares a huge array
        arrays = _npz_parts(data)
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False,
                                                   "shape": (10 ** 7, 10 ** 4)})
        name = [k for k in arrays if k != "header"][0]
        return _with_member(arrays, name, buf.getvalue() + b"\0" * 64)
    return mutate_bytes(data, rng)


def _with_member(arrays: dict, name: str, raw_npy: bytes) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, a in arrays.items():
            if k == name:
                z.writestr(k + ".npy", raw_npy)
            else:
                member = io.BytesIO()
                np.save(member, a, allow_pickle=False)
                z.writestr(k + ".npy", member.getvalue())
    return buf.getvalue()


@structural
def mutate_bvh(data: bytes, rng) -> bytes:
    """Numbers in the hierarchy and frames replaced by odd ones, counts changed, lines dropped; else bytes."""
    text = data.decode("latin-1")
    lines = text.split("\n")
    kind = rng.random()
    if kind < 0.6:
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.integers(len(lines)))
            toks = lines[k].split()
            if toks:
                i = int(rng.integers(len(toks)))
                toks[i] = str(rng.choice(["nan", "inf", "-1", "0", "1e308", "1e-320", "1e999", "7", "999999999",
                                          "-999999999", "x", "{", "}", "JOINT", "End", "CHANNELS", "Xrotation",
                                          "Frames:", "0.0", "2147483648"]))
                lines[k] = " ".join(toks)
        return "\n".join(lines).encode("latin-1")
    if kind < 0.75 and len(lines) > 2:
        k = int(rng.integers(len(lines)))
        del lines[k]
        return "\n".join(lines).encode("latin-1")
    return mutate_bytes(data, rng)


MUTATORS = {"bvh": mutate_bvh, "glb": mutate_glb, "gltf": mutate_gltf, "npz": mutate_npz}


def check(read, write, data: bytes, source: str):
    """One case: a MotionkitError, or motions that are finite and write and read back. Anything else raises."""
    try:
        motions = read(data, source)
    except MotionkitError:
        return "refused"
    from motionkit.files import check_writable

    try:
        check_writable(motions, "motion read")
        again = read(write(motions, {}), source)
    except MotionkitError as e:
        raise AssertionError(f"a motion the reader accepted does not write and read back: {e}") from None
    assert len(again) == len(motions)
    return "read"


@structural
def mutate_model(data: bytes, rng) -> bytes:
    """A model file: its JSON header's fields (pyramid, encoding, levels…), an array's shape or values, or bytes
    (stored uncompressed, as model files are)."""
    return mutate_npz(data, rng, compress=False)


def check_model(data: bytes, source: str = "crafted.mkm"):
    """A crafted model file: refused with a MotionkitError, or a model that generates finite motion."""
    import torch

    from motionkit import modelfile

    try:
        model = modelfile.loads(data, source)
    except MotionkitError:
        return "refused"
    x = model.generate(1, 40, torch.Generator().manual_seed(0), upto=max(1, model.trained_stages))
    assert torch.isfinite(x).all(), "a model the reader accepted generates non-finite features"
    return "read"
