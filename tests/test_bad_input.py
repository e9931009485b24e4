"""Bad input: one line naming the file (and line for BVH syntax) and the problem, non-zero exit, no traceback."""
import os

import pytest
from conftest import clip, run_process

SALSA = clip("Joe_Salsa-Dancing-6").read_bytes()
SALSA_LINES = SALSA.decode().splitlines(keepends=True)
MOTION_LINE = next(i for i, l in enumerate(SALSA_LINES) if l.startswith("MOTION"))


def frame_line(k):  # 1-based file line number of frame k
    return MOTION_LINE + 3 + k + 1


def replace_line(n, text):
    lines = list(SALSA_LINES)
    lines[n - 1] = text
    return "".join(lines).encode()


CASES = {
    "truncated_motion": (SALSA[: len(SALSA) * 2 // 3], "truncated"),
    "truncated_hierarchy": (SALSA[:3000], "end of file in the HIERARCHY"),
    "no_motion": ("".join(SALSA_LINES[:MOTION_LINE]).encode(), "missing MOTION"),
    "short_frame_line": (replace_line(frame_line(10), "1 2 3\n"), f":{frame_line(10)}: expected 198 values"),
    "nan": (replace_line(frame_line(5), SALSA_LINES[frame_line(5) - 1].replace(" ", " nan ", 1)),
            "expected 198 values"),
    "nan_value": (replace_line(frame_line(5), " ".join(["nan"] + SALSA_LINES[frame_line(5) - 1].split()[1:]) + "\n"),
                  f":{frame_line(5)}: a channel value is not finite"),
    "inf_value": (replace_line(frame_line(7), " ".join(["inf"] + SALSA_LINES[frame_line(7) - 1].split()[1:]) + "\n"),
                  f":{frame_line(7)}: a channel value is not finite"),
    "word_value": (replace_line(frame_line(7), " ".join(["abc"] + SALSA_LINES[frame_line(7) - 1].split()[1:]) + "\n"),
                   f":{frame_line(7)}: expected a number"),
    "unknown_channel": (SALSA.replace(b"Xrotation Yrotation Zrotation", b"Xrotation Wrotation Zrotation", 1),
                        "unknown channel name 'Wrotation'"),
    "frame_count": (SALSA.replace(b"Frames: 1295", b"Frames: 1300"), "frame-count mismatch"),
    "empty": (b"", "empty file"),
    "junk": (bytes(range(256)) * 20, "not a BVH file (binary data)"),
    "text_junk": (b"hello world\nthis is not motion\n", "not a BVH file"),
    "bad_frame_time": (SALSA.replace(b"Frame Time: 0.016667", b"Frame Time: 0"), "Frame Time 0 is outside"),
    "unbalanced": (SALSA.replace(b"}\n", b"", 1), "MOTION before the hierarchy was closed"),
    "bad_npz": (b"PK\x03\x04" + b"\x00" * 100, "corrupt or truncated NPZ"),
    "bad_glb": (b"glTF" + b"\x02\x00\x00\x00" + b"\xff" * 40, "the glTF binary says 4294967295 bytes"),
}


def check_one_line_error(proc, path, fragment):
    err = proc.stderr.decode()
    assert proc.returncode != 0
    assert "Traceback" not in err
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert str(path) in lines[0], err
    assert fragment in lines[0], err


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_file_gives_one_line(tmp_path, name):
    data, fragment = CASES[name]
    ext = {"bad_npz": ".npz", "bad_glb": ".glb"}.get(name, ".bvh")
    path = tmp_path / f"{name}{ext}"
    path.write_bytes(data)
    proc = run_process("info", path, check=False, timeout=30)
    check_one_line_error(proc, path, fragment)
    proc = run_process("convert", path, "-o", tmp_path / "out.glb", check=False, timeout=30)
    check_one_line_error(proc, path, fragment)
    assert not (tmp_path / "out.glb").exists()


def test_bad_file_on_stdin(tmp_path):
    proc = run_process("convert", "-", "-o", tmp_path / "x.bvh", input=SALSA[:50000], check=False, timeout=30)
    check_one_line_error(proc, "<stdin>", "truncated")


def test_missing_directory_unreadable_and_unknown_extension(tmp_path):
    check_one_line_error(run_process("info", tmp_path / "nope.bvh", check=False), tmp_path / "nope.bvh", "no such file")
    check_one_line_error(run_process("info", tmp_path, check=False), tmp_path, "is a directory")
    secret = tmp_path / "secret.bvh"
    secret.write_bytes(SALSA)
    secret.chmod(0)
    if os.geteuid() != 0:  # root reads anything
        check_one_line_error(run_process("info", secret, check=False), secret, "permission denied")
    secret.chmod(0o644)
    proc = run_process("convert", secret, "-o", tmp_path / "out.xyz", check=False)
    assert proc.returncode != 0 and "out.xyz" in proc.stderr.decode() and "Traceback" not in proc.stderr.decode()


def test_debug_shows_the_traceback(tmp_path):
    path = tmp_path / "e.bvh"
    path.write_bytes(b"")
    proc = run_process("--debug", "info", path, check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr.decode()


def test_output_equal_to_input_is_refused(tmp_path):
    path = tmp_path / "s.bvh"
    path.write_bytes(SALSA)
    proc = run_process("convert", path, "-o", path, check=False)
    check_one_line_error(proc, path, "same file as an input")
    assert path.read_bytes() == SALSA
    link = tmp_path / "link.bvh"
    link.symlink_to(path)
    assert run_process("convert", path, "-o", link, check=False).returncode != 0
    assert path.read_bytes() == SALSA


def test_unknown_content_without_a_known_extension(tmp_path):
    path = tmp_path / "mystery.dat"
    path.write_bytes(b"\x01\x02 hello")
    check_one_line_error(run_process("info", path, check=False), path, "unrecognised file format")
