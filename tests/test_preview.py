"""Previews are looked at, not just found: frame counts and sizes, motion visible as changing pixels, kept frames
drawn where the metadata says, contacts marked."""
import numpy as np
import pytest
from conftest import CLIPS, clip, run_cli
from PIL import Image

from motionkit.files import read_motions, write_motions


def frames_of(path):
    im = Image.open(path)
    out = []
    for k in range(im.n_frames):
        im.seek(k)
        out.append(np.asarray(im.convert("RGB"), dtype=np.int16))
    return out


def near(img, rgb, tol=14):
    return int((np.abs(img - np.array(rgb)).max(axis=-1) <= tol).sum())


BLUE, GREY, RED = (0x1f, 0x77, 0xb4), (0x9a, 0x9a, 0x9a), (0xff, 0x30, 0x30)


def test_gif_has_the_frames_and_size_asked_for_and_shows_movement(tmp_path):
    out = tmp_path / "salsa.gif"
    run_cli("preview", clip("Joe_Salsa-Dancing-6"), "--frames", "0:120", "--fps", "15", "--size", "400x300", "-o", out)
    imgs = frames_of(out)
    assert len(imgs) == 30  # 120 frames at 60 fps = 2 s, at 15 fps
    assert imgs[0].shape == (300, 400, 3)
    assert near(imgs[0], BLUE) > 200  # the figure is drawn
    assert np.abs(imgs[0] - imgs[20]).max(axis=-1).astype(bool).sum() > 200  # and it moves


def test_different_motions_give_different_pictures(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    run_cli("preview", clip("Joe_Salsa-Dancing-6"), "-o", a)
    run_cli("preview", clip("Malcolm_Gangnam-Style"), "-o", b)
    ia, ib = np.asarray(Image.open(a).convert("RGB"), np.int16), np.asarray(Image.open(b).convert("RGB"), np.int16)
    assert ia.shape == ib.shape == (190, 1200, 3)  # 8 cells of 150 x 190
    assert (np.abs(ia - ib).max(axis=-1) > 40).sum() > 500


def test_kept_frames_are_grey_where_the_metadata_says(tmp_path):
    m = read_motions(str(clip("Joe_Salsa-Dancing-6")))[0].resampled(30).slice(0, 60)
    m.metadata.update({"operation": "inpaint", "kept_frames": list(range(0, 30))})
    src = tmp_path / "edited.npz"
    src.write_bytes(b"")
    write_motions([m], str(src))
    out = tmp_path / "edited.gif"
    run_cli("preview", src, "--fps", "10", "-o", out)
    imgs = frames_of(out)
    assert len(imgs) == 20
    for k, img in enumerate(imgs):  # frame k shows time k/10 s = source frame 3k
        if 3 * k < 30:
            assert near(img, GREY) > 600 and near(img, BLUE) < 20, k
        else:  # (the captions' anti-aliased text leaves a few grey pixels)
            assert near(img, BLUE) > 600 and near(img, GREY) < 150, k


def test_feet_on_the_ground_are_marked(tmp_path):
    m = read_motions(str(clip("Joe_Walk-In-Circle")))[0].resampled(30).slice(0, 30)
    names = m.skeleton.names
    feet = [n for n in names if n.endswith("Toe_End")]
    m.metadata["contacts"] = {feet[0]: [1] * 15 + [0] * 15, feet[1]: [0] * 30}
    src = tmp_path / "walk.npz"
    write_motions([m], str(src))
    out = tmp_path / "walk.gif"
    run_cli("preview", src, "--fps", "10", "-o", out)
    imgs = frames_of(out)
    assert all(reddish(img) > 5 for img in imgs[:5])
    assert all(reddish(img) == 0 for img in imgs[5:])


def reddish(img):
    return int(((img[..., 0] > 170) & (img[..., 1] < 100) & (img[..., 2] < 100)).sum())


def test_preview_ends_a_pipe(tmp_path):
    data = run_cli("convert", clip("Xia_proud"), "--to", "npz", "-o", "-").stdout
    out = tmp_path / "xia.png"
    run_cli("preview", "-", "-o", out, input=data)
    assert Image.open(out).size == (1200, 190)


@pytest.mark.parametrize("path", CLIPS, ids=[c.stem for c in CLIPS])
def test_every_clip_previews(tmp_path, path):
    out = tmp_path / "sheet.png"
    run_cli("preview", path, "--view", "side", "-o", out)
    img = np.asarray(Image.open(out).convert("RGB"), np.int16)
    assert near(img, BLUE) > 100


def test_bad_preview_requests_are_one_line_errors(tmp_path):
    for args, words in [(("-o", tmp_path / "x.jpg"), "must be a .gif"), (("-o", tmp_path / "x.gif", "--size", "big"),
                                                                          "WIDTHxHEIGHT")]:
        proc = run_cli("preview", clip("Xia_proud"), *args, check=False)
        err = proc.stderr.decode()
        assert proc.returncode != 0 and words in err and "Traceback" not in err
