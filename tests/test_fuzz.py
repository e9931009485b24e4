"""Files crafted to break the readers — structural mutations of good files (fields, indices, counts, strides,
chunk lengths, huge declared sizes, cycles) and byte-level ones — end in one clear refusal or a finite motion
that writes and reads back; never another exception. A quick run here; `python bench/fuzz.py` runs 10 000 per
format."""
import functools

import numpy as np
import pytest
from conftest import clip
from fuzzing import MUTATORS, check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motionkit.files import read_motions
from motionkit.formats import bvh, gltf, npz

FORMATS = {"bvh": (bvh.read, bvh.write), "glb": (gltf.read, gltf.write_glb), "gltf": (gltf.read, gltf.write_gltf),
           "npz": (npz.read, npz.write)}


@functools.lru_cache(maxsize=None)
def seeds(name: str) -> tuple[bytes, ...]:
    """Good files to start from: a short human clip and a six-channel creature."""
    xia = read_motions(str(clip("Xia_proud")))[0].slice(0, 24)
    ele = read_motions(str(clip("Elephant_idle1")))[0].slice(0, 12)
    return tuple(FORMATS[name][1]([m], {}) for m in (xia, ele))


@pytest.mark.parametrize("name", sorted(FORMATS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_crafted_files_are_refused_or_read_sanely(monkeypatch, name, seed):
    monkeypatch.setenv("MOTIONKIT_MAX_VALUES", "2000000")  # a declared size past this must be refused, not tried
    rng = np.random.default_rng(seed)
    read, write = FORMATS[name]
    data = seeds(name)[int(rng.integers(len(seeds(name))))]
    for _ in range(int(rng.integers(1, 3))):
        data = MUTATORS[name](data, rng)
    check(read, write, data, f"crafted.{name}")


@functools.lru_cache(maxsize=None)
def model_seed() -> bytes:
    from motionkit import modelfile
    from motionkit.model import Config, Model

    m = read_motions(str(clip("Xia_proud")))[0].slice(0, 60)
    return modelfile.dumps(Model.from_clip(m, Config.from_preset("fast", iterations=[1] * 4)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1))
def test_crafted_model_files_are_refused_or_generate_finite_motion(seed):
    from fuzzing import check_model, mutate_model

    rng = np.random.default_rng(seed)
    data = model_seed()
    for _ in range(int(rng.integers(1, 3))):
        data = mutate_model(data, rng)
    check_model(data)
