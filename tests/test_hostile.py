"""The files and arguments that used to crash, hang or hurt motionkit (each once reproduced by hand), through the
real command: one line naming the file and the problem, a non-zero exit, in seconds, in bounded memory."""
import base64
import io
import json
import os
import struct

import numpy as np
import pytest
from conftest import clip, run_process

from motionkit.files import read_motions, write_motions

XIA = clip("Xia_proud")


def glb_parts(path):
    data = path.read_bytes()
    n = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[20:20 + n]), data[20 + n:]


def glb(doc, rest) -> bytes:
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text + rest
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    m = read_motions(str(XIA))[0].slice(0, 40)
    for ext in ("glb", "gltf", "npz", "bvh"):
        write_motions([m], str(d / f"x.{ext}"))
    return d


def refused(tmp_path, name: str, data: bytes, words: str, *args, env=None):
    path = tmp_path / name
    path.write_bytes(data)
    proc = run_process("convert", path, "-o", tmp_path / "out.npz", *args, check=False, timeout=60, env=env)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert len(err.strip().splitlines()) == 1 and name in err and words in err, err
    assert not (tmp_path / "out.npz").exists()


def used(doc) -> int:
    """The accessor holding the first animated rotation (one the reader must use)."""
    return doc["animations"][0]["samplers"][0]["output"]


def gltf_cases():
    def stride(doc):
        doc["bufferViews"][doc["accessors"][used(doc)]["bufferView"]]["byteStride"] = -4
    def stride_small(doc):
        doc["bufferViews"][doc["accessors"][used(doc)]["bufferView"]]["byteStride"] = 4
    def cycle(doc):  # the placement node becomes a child of the last joint: every node still has one parent
        skin = doc["skins"][0]
        doc["nodes"][skin["joints"][-1]]["children"] = [0]
    def accessor_index(doc):
        doc["animations"][0]["samplers"][0]["output"] = 10 ** 6
    def component(doc):
        doc["accessors"][0]["componentType"] = 1234
    def kind(doc):
        doc["accessors"][used(doc)]["type"] = "VEC7"
    def count(doc):
        doc["accessors"][used(doc)]["count"] = -3
    def offset(doc):
        doc["accessors"][used(doc)]["byteOffset"] = -8
    def fps_string(doc):
        doc["nodes"][0]["extras"]["motionkit"]["fps"] = "thirty"
    def fps_huge(doc):
        doc["nodes"][0]["extras"]["motionkit"]["fps"] = 1e12
    def fps_negative(doc):
        doc["nodes"][0]["extras"]["motionkit"]["fps"] = -30
    def extras_list(doc):
        doc["nodes"][0]["extras"]["motionkit"] = [1, 2]
    def end_site(doc):
        doc["nodes"][0]["extras"]["motionkit"]["end_sites"] = {"999": [0, 1, 0]}
    def channels(doc):
        doc["nodes"][0]["extras"]["motionkit"]["channels"] = []
    return {"negative stride": (stride, "byteStride"), "stride under the element": (stride_small, "byteStride"),
            "children cycle": (cycle, "cycle"), "accessor out of range": (accessor_index, "out of range"),
            "componentType": (component, "componentType"), "type": (kind, "unknown type"),
            "negative count": (count, "'count'"), "negative byteOffset": (offset, "byteOffset"),
            "fps a string": (fps_string, "not a number"), "fps 1e12": (fps_huge, "outside"),
            "fps negative": (fps_negative, "outside"), "extras a list": (extras_list, "not an object"),
            "end site index": (end_site, "does not exist"), "empty channels": (channels, "channels")}


@pytest.mark.parametrize("case", sorted(gltf_cases()))
def test_crafted_glb(good, tmp_path, case):
    change, words = gltf_cases()[case]
    doc, rest = glb_parts(good / "x.glb")
    change(doc)
    refused(tmp_path, "crafted.glb", glb(doc, rest), words)


@pytest.mark.parametrize("uri, words", [("data:application/octet-stream;base64", "not base64"),
                                        ("data:application/octet-stream;base64,@@@@", "bad base64")])
def test_crafted_data_uri(good, tmp_path, uri, words):
    doc = json.loads((good / "x.gltf").read_bytes())
    doc["buffers"][0]["uri"] = uri
    refused(tmp_path, "crafted.gltf", json.dumps(doc).encode(), words)


def npz_with(good, header_change=None, arrays_change=None) -> bytes:
    z = dict(np.load(io.BytesIO((good / "x.npz").read_bytes()), allow_pickle=False))
    header = json.loads(z["header"].tobytes())
    if header_change:
        header = header_change(header)
    z["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    if arrays_change:
        arrays_change(z)
    buf = io.BytesIO()
    np.savez_compressed(buf, **z)
    return buf.getvalue()


def test_crafted_npz(good, tmp_path):
    refused(tmp_path, "list.npz", npz_with(good, lambda h: [h]), "not a motionkit NPZ")
    def end_site(h):
        h["skeletons"][0]["end_sites"] = {"999": [0, 1, 0]}
        return h
    refused(tmp_path, "endsite.npz", npz_with(good, end_site), "end site")
    def index(h):
        h["motions"][0]["skeleton"] = -1
        return h
    refused(tmp_path, "index.npz", npz_with(good, index), "skeleton -1")
    def fps(h):
        h["motions"][0]["fps"] = float("inf")
        return h
    refused(tmp_path, "fps.npz", npz_with(good, fps).replace(b"Infinity", b"Infinity"), "fps")
    def channels(h):
        h["skeletons"][0]["channels"][1] = ["Wrotation"]
        return h
    refused(tmp_path, "channels.npz", npz_with(good, channels), "channel")
    # a zip bomb: a member whose header declares far more than the limit
    bomb = io.BytesIO()
    np.lib.format.write_array_header_1_0(bomb, {"descr": "<f8", "fortran_order": False, "shape": (10 ** 9, 4)})
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        header = io.BytesIO()
        np.save(header, np.frombuffer(b'{"format": "motionkit-npz"}', dtype=np.uint8))
        z.writestr("header.npy", header.getvalue())
        z.writestr("rotations_0.npy", bomb.getvalue() + b"\0" * (10 ** 6))
    refused(tmp_path, "bomb.npz", buf.getvalue(), "more than motionkit reads")
    # a member's compression method changed in both headers: one no reader implements, bzip2, LZMA
    for method in (99, 12, 14):
        data = bytearray((good / "x.npz").read_bytes())
        local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
        struct.pack_into("<H", data, local + 8, method)
        struct.pack_into("<H", data, central + 10, method)
        refused(tmp_path, f"method{method}.npz", bytes(data), "corrupt")


def test_crafted_bvh(tmp_path):
    text = XIA.read_text()
    frame_time = [ln for ln in text.splitlines() if ln.startswith("Frame Time")][0]
    refused(tmp_path, "tiny_ft.bvh", text.replace(frame_time, "Frame Time: 1e-320").encode(), "Frame Time")
    refused(tmp_path, "huge_ft.bvh", text.replace(frame_time, "Frame Time: 1e300").encode(), "Frame Time")
    lines = text.rstrip("\n").splitlines()
    lines[-1] = " ".join(["1e308"] + lines[-1].split()[1:])
    refused(tmp_path, "huge_value.bvh", ("\n".join(lines) + "\n").encode(), "beyond")
    cut = text.rstrip("\n")
    refused(tmp_path, "cut.bvh", cut[:-3].encode(), "ends inside its last value")
    frames = [ln for ln in text.splitlines() if ln.startswith("Frames")][0]
    refused(tmp_path, "many.bvh", text.replace(frames, "Frames: 999999999999").encode(), "more than motionkit reads")


def test_huge_stream_is_refused_without_reading_it_all(tmp_path):
    proc = run_process("info", "/dev/zero", check=False, timeout=60, env={**os.environ, "MOTIONKIT_MAX_BYTES": "1000000"})
    assert proc.returncode == 1 and "more than 1000000 bytes" in proc.stderr.decode()


@pytest.mark.parametrize("args, words", [(("--fps", "-30"), "--fps"), (("--fps", "nan"), "--fps"),
                                         (("--fps", "inf"), "--fps"), (("--fps", "0"), "--fps"),
                                         (("--fps", "1e6"), "--fps"), (("--scale", "nan"), "--scale"),
                                         (("--scale", "0"), "--scale"), (("--scale", "inf"), "--scale")])
def test_bad_numbers_on_the_command_line(tmp_path, args, words):
    proc = run_process("convert", XIA, "-o", tmp_path / "x.glb", *args, check=False)
    assert proc.returncode == 2 and words in proc.stderr.decode() and not (tmp_path / "x.glb").exists()


def test_an_output_name_with_a_nul_byte(tmp_path):
    from click.testing import CliRunner

    from motionkit.cli import cli
    res = CliRunner().invoke(cli, ["convert", str(XIA), "-o", str(tmp_path / "a\0b.bvh")])
    assert res.exit_code == 1 and "motionkit: error" in res.stderr, res.stderr


def test_control_characters_in_names_never_reach_the_terminal(tmp_path):
    m = read_motions(str(XIA))[0]
    names = list(m.skeleton.names)
    names[1] = "evil\x1b[2J\x07name"
    from motionkit.motion import Skeleton
    sk = m.skeleton
    bad = m.replace(skeleton=Skeleton(names, sk.parents, sk.offsets, sk.channels, sk.end_sites), name="x\x1b[31m")
    write_motions([bad], str(tmp_path / "evil.npz"))
    out = run_process("info", tmp_path / "evil.npz").stdout.decode()
    assert "\x1b" not in out and "\x07" not in out


def test_crafted_model_files(tmp_path):
    from motionkit import modelfile
    from motionkit.model import Config, Model

    m = read_motions(str(XIA))[0].slice(0, 60)
    data = modelfile.dumps(Model.from_clip(m, Config.from_preset("fast")))
    z = dict(np.load(io.BytesIO(data), allow_pickle=False))
    header = json.loads(z["header"].tobytes())

    def crafted(change, arrays=None):
        h = json.loads(json.dumps(header))
        h = change(h)
        zz = dict(z, header=np.frombuffer(json.dumps(h).encode(), dtype=np.uint8))
        if arrays:
            arrays(zz)
        buf = io.BytesIO()
        np.savez(buf, **zz)
        return buf.getvalue()

    def levels(h):
        h["trained_levels"] = 99
        return h
    def lengths(h):
        h["lengths"][-1] = 10 ** 9
        return h
    def fps(h):
        h["encoding"]["fps"] = 1e9
        return h
    def amplitudes(h):
        h["amplitudes"][0] = float("nan")
        return h
    def stretch(h):
        h["config"]["stretch"] = "forever"
        return h
    def config(**values):  # a file that could sample, but whose training knobs are no training's
        def change(h):
            h["config"].update(values)
            h["trained_levels"] = 1
            return h
        return crafted(change)
    def threshold(value):  # a file that could sample, with a contact threshold no calibration gives
        def change(h):
            h["contact_threshold"] = value
            h["trained_levels"] = 1
            return h
        return crafted(change)
    def nan_weight(zz):
        name = next(k for k in zz if k.startswith("G0/"))
        zz[name] = np.full_like(zz[name], np.nan)
    cases = {"a list": crafted(lambda h: [h]), "trained levels 99": crafted(levels), "lengths 1e9": crafted(lengths),
             "fps 1e9": crafted(fps), "NaN amplitudes": crafted(amplitudes),
             "NaN weights": crafted(lambda h: h, nan_weight), "a stretch that is not a number": crafted(stretch),
             "a batch of 10^12": config(batch=10 ** 12), "a seed of 10^30": config(seed=10 ** 30), "a contact weight that is text": config(lambda_contact="x"),
             "no iterations": config(iterations=[]), "a NaN reconstruction weight": config(lambda_rec=[float("nan")]),
             "nine transferred layers": config(transfer_layers=9), "no level trained": crafted(lambda h: h),
             "a contact threshold of 7": threshold(7), "a contact threshold that is text": threshold("x")}
    for what, payload in cases.items():
        path = tmp_path / "crafted.mkm"
        path.write_bytes(payload)
        proc = run_process("sample", "-m", path, "-o", tmp_path / "s.npz", check=False, timeout=60)
        err = proc.stderr.decode()
        assert proc.returncode == 1 and len(err.strip().splitlines()) == 1 and "crafted.mkm" in err, (what, err)
        assert not (tmp_path / "s.npz").exists()
