"""The installed `motionkit` command: info, convert, pipes through stdin/stdout, atomic outputs."""
import json
import os
import pty
import subprocess

import numpy as np
import pytest
from conftest import EXPECTED, clip, motionkit_exe, run_cli

from motionkit.files import read_motions


def test_info_json_on_every_clip(any_clip):
    info = json.loads(run_cli("info", any_clip, "--json").stdout)
    joints, ends, frames, fps = EXPECTED[any_clip.stem]
    assert (info["joints"], info["end_sites"], info["frames"], info["fps"]) == (joints, ends, frames, fps)
    assert info["duration_s"] == pytest.approx(frames / fps, abs=1e-3)
    assert info["units_guess"] in ("cm", "m", "in")
    assert len(info["contacts_guess"]) >= 2


def test_info_units_and_feet():
    salsa = json.loads(run_cli("info", clip("Joe_Salsa-Dancing-6"), "--json").stdout)
    assert salsa["units_guess"] == "cm"
    assert salsa["contacts_guess"] == ["mixamorig7:LeftToe_End", "mixamorig7:RightToe_End"]
    crab = json.loads(run_cli("info", clip("Crabnew_Crab-dance-long"), "--json").stdout)
    assert crab["units_guess"] == "m" and len(crab["contacts_guess"]) == 6
    assert all("Leg" in n or "leg" in n for n in crab["contacts_guess"])
    ele = json.loads(run_cli("info", clip("Elephant_idle2"), "--json").stdout)
    assert len(ele["contacts_guess"]) == 4 and len(ele["animated_positions"]) == 39
    xia = json.loads(run_cli("info", clip("Xia_normal"), "--json").stdout)
    assert xia["units_guess"] == "in" and xia["root_channels"][3:] == ["Zrotation", "Yrotation", "Xrotation"]


def test_pipe_round_trip_through_npz(tmp_path, any_clip):
    """cat X.bvh | motionkit convert - --to npz - | motionkit convert - -o X2.bvh"""
    out = tmp_path / "X2.bvh"
    cmd = f"cat '{any_clip}' | '{motionkit_exe()}' convert - --to npz - | '{motionkit_exe()}' convert - -o '{out}'"
    proc = subprocess.run(cmd, shell=True, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    a, b = read_motions(str(any_clip))[0], read_motions(str(out))[0]
    h = a.skeleton.height()
    assert np.abs(a.world_positions(True) - b.world_positions(True)).max() < 1e-6 * h
    assert a.skeleton.channels == b.skeleton.channels and a.fps == b.fps


def test_bvh_to_gltf_to_bvh(tmp_path, any_clip):
    glb = tmp_path / "x.glb"
    back = tmp_path / "back.bvh"
    run_cli("convert", any_clip, "-o", glb)
    run_cli("convert", glb, "-o", back)
    a, b = read_motions(str(any_clip))[0], read_motions(str(back))[0]
    assert np.abs(a.world_positions(True) - b.world_positions(True)).max() < 1e-5 * a.skeleton.height()
    assert b.skeleton.channels == a.skeleton.channels


def test_convert_frames_fps_and_scale(tmp_path):
    src = clip("Joe_Salsa-Dancing-6")
    out = tmp_path / "cut.bvh"
    run_cli("convert", src, "-o", out, "--frames", "120:180", "--fps", "30", "--scale", "0.01")
    m = read_motions(str(out))[0]
    full = read_motions(str(src))[0]
    assert m.fps == 30 and m.frames == 30
    # frame k at 30 fps is source frame 120 + 2k, in metres
    assert np.allclose(m.world_positions()[5], full.world_positions()[130] * 0.01, atol=1e-6)


def test_default_pipe_format_is_npz_and_gltf_to_stdout(tmp_path):
    src = clip("Xia_normal")
    proc = run_cli("convert", src, "-o", "-")
    assert proc.stdout[:4] == b"PK\x03\x04"
    proc = run_cli("convert", src, "--to", "glb", "-o", "-")
    assert proc.stdout[:4] == b"glTF"
    proc = run_cli("convert", src, "--to", "bvh", "-o", "-")
    assert proc.stdout.startswith(b"HIERARCHY")


def test_binary_to_a_terminal_is_refused():
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([motionkit_exe(), "convert", str(clip("Xia_normal")), "-o", "-"],
                              stdout=slave, stderr=subprocess.PIPE, timeout=30)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 1
    assert b"refusing to write binary npz to a terminal" in proc.stderr


def test_several_motions_to_bvh_need_a_pattern(tmp_path):
    npz = tmp_path / "two.npz"
    a = clip("Xia_normal")
    both = subprocess.run(f"cat '{a}' | '{motionkit_exe()}' convert - -o - ", shell=True, capture_output=True).stdout
    from motionkit.formats import npz as npzfmt

    m = npzfmt.read(both)[0]
    npz.write_bytes(npzfmt.write([m, m.slice(0, 100)]))
    proc = run_cli("convert", npz, "-o", tmp_path / "x.bvh", check=False)
    assert proc.returncode == 1 and "%03d" in proc.stderr.decode()
    run_cli("convert", npz, "-o", tmp_path / "x_%03d.bvh")
    assert read_motions(str(tmp_path / "x_001.bvh"))[0].frames == 100
    info = json.loads(run_cli("info", npz, "--json").stdout)
    assert [r["frames"] for r in info] == [360, 100]


def test_outputs_are_atomic_and_keep_nothing_on_failure(tmp_path):
    out = tmp_path / "out.bvh"
    out.write_bytes(b"precious")
    bad = tmp_path / "bad.bvh"
    bad.write_bytes(b"HIERARCHY\nROOT x\n{")
    assert run_cli("convert", bad, "-o", out, check=False).returncode == 1
    assert out.read_bytes() == b"precious"
    # a failure after the first output was opened: the second of two files cannot be made, so neither is
    two = tmp_path / "two.npz"
    run_cli("convert", clip("Xia_normal"), "-o", tmp_path / "one.bvh")
    pair = [read_motions(str(clip("Xia_normal")))[0], read_motions(str(tmp_path / "one.bvh"))[0]]
    from motionkit.files import write_motions
    write_motions([pair[0], pair[1].replace(name="other")], str(two))
    (tmp_path / "sub0").mkdir()
    proc = run_cli("convert", two, "-o", tmp_path / "sub%d" / "x.bvh", check=False)
    assert proc.returncode == 1 and "folder does not exist" in proc.stderr.decode()
    assert list((tmp_path / "sub0").iterdir()) == []  # all or nothing, and no temporary file left behind
    run_cli("convert", clip("Xia_normal"), "-o", out)
    assert out.read_bytes().startswith(b"HIERARCHY")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.bvh", "one.bvh", "out.bvh", "sub0", "two.npz"]
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o644 & ~mask or out.stat().st_mode & 0o777 == 0o666 & ~mask
    fresh = tmp_path / "fresh.bvh"
    run_cli("convert", clip("Xia_normal"), "-o", fresh)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~mask  # a new file gets the umask's mode, as a shell's would
    out.chmod(0o600)
    run_cli("convert", clip("Xia_normal"), "-o", out)
    assert out.stat().st_mode & 0o777 == 0o600  # a replaced file keeps its own


def test_outputs_through_links_fifos_and_patterns(tmp_path):
    import threading

    src = clip("Xia_proud")
    target = tmp_path / "target.bvh"
    target.write_bytes(b"old")
    link = tmp_path / "link.bvh"
    link.symlink_to(target)
    run_cli("convert", src, "-o", link)
    assert link.is_symlink() and target.read_bytes().startswith(b"HIERARCHY")  # written through, the link kept
    fifo = tmp_path / "pipe.bvh"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    run_cli("convert", src, "-o", fifo)
    reader.join(10)
    assert got and got[0].startswith(b"HIERARCHY") and fifo.is_fifo()  # written into, never replaced
    two = tmp_path / "two.npz"
    m = read_motions(str(src))[0]
    from motionkit.files import write_motions
    write_motions([m, m], str(two))  # two motions of one name
    for pattern, words in (("same_%s.bvh", "same file name"), ("w_%0999999999d.bvh", "bad file name pattern"),
                           ("w_%x.bvh", "bad file name pattern")):
        proc = run_cli("convert", two, "-o", tmp_path / pattern, check=False)
        assert proc.returncode == 1 and words in proc.stderr.decode(), proc.stderr
    run_cli("convert", two, "-o", tmp_path / "take_%02d_100%%.bvh")
    assert {p.name for p in tmp_path.glob("take_*")} == {"take_00_100%.bvh", "take_01_100%.bvh"}
    assert not list(tmp_path.glob("same_*")) and not list(tmp_path.glob("w_*"))


def test_help_does_not_import_torch():
    code = ("import sys; from motionkit.cli import cli; "
            "from click.testing import CliRunner; r = CliRunner().invoke(cli, ['--help']); "
            "assert r.exit_code == 0 and 'sample' in r.output and 'train' in r.output, r.output; "
            "print('torch' in sys.modules)")
    proc = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_example_is_a_valid_dancer(tmp_path):
    out = tmp_path / "dancer.bvh"
    run_cli("example", "-o", out, "--seconds", "6")
    info = json.loads(run_cli("info", out, "--json").stdout)
    assert info["frames"] == 180 and info["fps"] == 30 and info["joints"] == 22
    assert info["contacts_guess"] == ["LeftToeBase", "RightToeBase"]
    m = read_motions(str(out))[0]
    wp = m.world_positions(end_sites=True)
    feet = wp[:, -4:, 1]
    assert np.allclose(feet.min(axis=1), 0, atol=1e-6)  # always standing on the ground
    assert np.std(wp[:, m.skeleton.index("LeftHand")], axis=0).max() > 5  # and actually moving
    other = tmp_path / "other.bvh"
    run_cli("example", "-o", other, "--seconds", "6", "--seed", "3")
    assert other.read_bytes() != out.read_bytes()


def test_generating_never_imports_the_training_loop(tmp_path):
    """The model (motionkit.model) stands apart from its training loop (motionkit.train): sampling, editing and
    loading a model file do not load the loop."""
    code = ("import sys, motionkit.edit, motionkit.modelfile; from motionkit.cli import cli; "
            "from click.testing import CliRunner; "
            f"r = CliRunner().invoke(cli, ['sample', '-m', {str(tmp_path / 'm.mkm')!r}, '-o', {str(tmp_path / 's.bvh')!r}]); "
            "assert r.exit_code == 0, r.output; print('motionkit.train' in sys.modules)")
    run_cli("train", clip("Xia_proud"), "-o", tmp_path / "m.mkm", "--iterations", "1", "--batch", "1",
            "--d-steps", "1", "--no-plots", cwd=tmp_path)
    proc = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
