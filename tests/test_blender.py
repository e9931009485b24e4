"""Real Blender (bpy 5.0.1 in its own venv) imports our BVH, glTF and USD; its world joint positions match our FK.

Blender's venv is found from MOTIONKIT_BLENDER_PYTHON or .ci/blender; .ci/run creates it and sets
MOTIONKIT_REQUIRE_CLIENTS=1 so these tests cannot silently skip in CI."""
import json
import os
import re
import pathlib
import subprocess

import numpy as np
import pytest
from conftest import clip, require_clients, run_cli

from motionkit import anatomy
from motionkit.files import read_motions

ROOT = pathlib.Path(__file__).resolve().parent.parent


def blender_python():
    for p in (os.environ.get("MOTIONKIT_BLENDER_PYTHON"), ROOT / ".ci" / "blender" / "bin" / "python"):
        if p and pathlib.Path(p).exists():
            return str(p)
    return None


pytestmark = [pytest.mark.clients,
              pytest.mark.skipif(blender_python() is None and not require_clients(),
                                 reason="Blender's venv not installed (.ci/run installs bpy==5.0.1)")]


def probe(path, fps, frames):
    proc = subprocess.run([blender_python(), str(ROOT / "tests" / "blender_probe.py"), str(path), str(fps),
                           *map(str, frames)], capture_output=True, text=True, timeout=600)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("MOTIONKIT_JSON ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(line[len("MOTIONKIT_JSON "):])


def to_blender(p):
    """Our Y-up positions in Blender's Z-up world (both importers: forward -Z, up Y)."""
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1)


@pytest.mark.parametrize("name", ["Joe_Salsa-Dancing-6", "Elephant_idle1", "Xia_normal"])
@pytest.mark.parametrize("ext", ["bvh", "glb", "usda", "fbx"])
def test_blender_imports_and_agrees(tmp_path, monkeypatch, name, ext):
    src = clip(name)
    m = read_motions(str(src))[0]
    path = tmp_path / f"{name}.{ext}"
    if ext == "fbx":
        monkeypatch.setenv("MOTIONKIT_BLENDER", blender_python())
    run_cli("convert", src, "-o", path)
    frames = sorted({0, m.frames // 4, m.frames // 2, m.frames - 1})
    got = probe(path, m.fps, frames)
    assert len(got["armatures"]) == 1
    arm = got["armatures"][0]
    assert arm["bones"] == len(m.skeleton)
    assert arm["end"] - arm["start"] + 1 == m.frames
    if ext == "usda" and not require_clients():
        pytest.importorskip("pxr", reason="pip install 'motionkit[usd]' (.ci/run installs it)")
    scale = 1.0 if ext == "bvh" else anatomy.guess_units(anatomy.body_height(m))[1]
    ours = to_blender(m.world_positions() * scale)
    h = m.skeleton.height() * scale
    for f in frames:
        pose = arm["poses"][str(f)]
        # USD prim names are identifiers: our writer turned "mixamorig7:Hips" into "mixamorig7_Hips"
        theirs = np.array([pose[re.sub(r"[^A-Za-z0-9_]", "_", n) if ext == "usda" else n] for n in m.skeleton.names])
        err = np.abs(theirs - ours[f]).max()
        assert err < 1e-3 * h, f"{name}.{ext} frame {f}: {err:.3g} (height {h:.3g})"
