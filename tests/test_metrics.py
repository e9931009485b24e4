"""The metrics measure what they claim, on real clips (GANimator's definitions; see motionkit.metrics)."""
import json

import numpy as np
import pytest
from conftest import clip, run_cli

from motionkit import metrics
from motionkit import rotations as rot
from motionkit.errors import MotionkitError
from motionkit.files import read_motions


def load(name):
    return read_motions(str(clip(name)))[0]


def block_shuffled(m, block, seed=0):
    """Reorder blocks of ``block`` source frames (shorter than the 30-frame segments at 30 fps)."""
    rng = np.random.default_rng(seed)
    n = m.frames // block
    idx = np.concatenate([np.arange(b * block, (b + 1) * block) for b in rng.permutation(n)])
    return m.replace(rotations=m.rotations[idx], translations=m.translations[idx], name=f"shuffled{seed}")


def frozen(m, frame):
    return m.replace(rotations=np.repeat(m.rotations[frame:frame + 1], m.frames, 0),
                     translations=np.repeat(m.translations[frame:frame + 1], m.frames, 0), name="frozen")


def noisy(m, degrees, seed=0):
    rng = np.random.default_rng(seed)
    jitter = rot.from_euler(rng.normal(0, degrees, m.rotations.shape[:2] + (3,)), "XYZ")
    return m.replace(rotations=rot.multiply(m.rotations, jitter), name="noisy")


@pytest.mark.parametrize("name", ["Joe_Salsa-Dancing-6", "Crabnew_Crab-dance-long", "Xia_normal"])
def test_reference_against_itself(name):
    ref = load(name)
    r = metrics.evaluate(ref, [ref])
    assert r["coverage"] == 1.0
    assert r["global_diversity"] < 1e-6 and r["local_diversity"] < 1e-6
    assert r["harmonic_mean"] < 1e-3  # a copy is not a variation


def test_mixamo_uses_ganimators_24_joints_and_4_contacts():
    r = metrics.evaluate(load("Joe_Salsa-Dancing-6"), [load("Joe_Salsa-Dancing-6")])
    assert r["feature_width"] == 148 and len(r["joints"]) == 24 and len(r["contacts"]) == 4
    assert r["reference_frames_30fps"] == 648
    assert not any("Hand" in j and j[-1].isdigit() for j in r["joints"])  # no fingers
    crab = metrics.evaluate(load("Crabnew_Crab-dance-long"), [load("Crabnew_Crab-dance-long")])
    assert len(crab["contacts"]) == 6


@pytest.mark.parametrize("name", ["Joe_Salsa-Dancing-6", "Crabnew_Crab-dance-long", "Xia_normal"])
def test_block_shuffle_is_covered_but_globally_diverse(name):
    ref = load(name)
    block = int(round(ref.fps / 30 * 20))  # 20 frames at 30 fps
    r = metrics.evaluate(ref, [block_shuffled(ref, block)])
    assert r["coverage"] > 0.8
    assert r["global_diversity"] > 0.3
    assert r["harmonic_mean"] > 0.3


def test_shorter_blocks_are_more_diverse():
    ref = load("Joe_Salsa-Dancing-6")
    coarse = metrics.evaluate(ref, [block_shuffled(ref, 80)])
    fine = metrics.evaluate(ref, [block_shuffled(ref, 20)])
    assert fine["global_diversity"] > coarse["global_diversity"]
    assert fine["local_diversity"] > coarse["local_diversity"]


def test_frozen_pose_covers_nothing():
    ref = load("Joe_Salsa-Dancing-6")
    r = metrics.evaluate(ref, [frozen(ref, 300)])
    assert r["coverage"] < 0.05
    assert r["harmonic_mean"] < 0.05


def test_heavy_noise_is_locally_diverse_and_uncovered():
    ref = load("Joe_Salsa-Dancing-6")
    shuffled = metrics.evaluate(ref, [block_shuffled(ref, 40)])
    r = metrics.evaluate(ref, [noisy(ref, 25)])
    assert r["coverage"] < 0.05
    assert r["local_diversity"] > 2 * shuffled["local_diversity"]


def test_more_varied_samples_have_higher_inter_diversity():
    ref = load("Joe_Salsa-Dancing-6")
    same = metrics.evaluate(ref, [block_shuffled(ref, 40, 1), block_shuffled(ref, 40, 1)])
    varied = metrics.evaluate(ref, [block_shuffled(ref, 40, 1), block_shuffled(ref, 40, 2),
                                    block_shuffled(ref, 40, 3)])
    assert same["inter_diversity"] == 0.0
    assert varied["inter_diversity"] > 1.0


def test_global_diversity_matches_brute_force_on_a_small_case():
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 3, size=(40, 70))
    # brute force: every split of 70 frames into segments of >= 30 frames, any segment length
    p = np.zeros((41, 71))
    for i in range(1, 41):
        p[i, 1:] = p[i - 1, :-1] + d[i - 1]

    def seg(s, e):
        n = e - s
        return min(p[r + n, e] - p[r, s] for r in range(0, 40 - n + 1)) if n <= 40 else np.inf

    best = {0: 0.0}
    for e in range(30, 71):
        best[e] = min((best[s] + seg(s, e) for s in range(0, e - 29) if s in best), default=np.inf)
    assert metrics.global_diversity(d) == pytest.approx(best[70] / 70)


def test_metrics_hold_a_block_of_the_distances_at_a_time():
    """A long take's distance matrix does not fit in memory (a 10-minute take against a sample twice as long: 5 GB),
    so every metric reduces it a block of reference rows at a time. Blocks of 37 windows must give what the whole
    matrix gives, on real motion: Salsa against a shuffled copy of itself."""
    m = load("Joe_Salsa-Dancing-6")
    spec = metrics.feature_spec(m)
    ref = metrics.features(m, spec)
    gen = metrics.features(noisy(block_shuffled(m, 40, 1), 4), spec)[:400]
    d = metrics.frame_distances(ref, gen)
    small = metrics.Distances(ref, gen, block=37)
    assert len(ref) > 3 * 37  # several blocks, and a short last one
    whole30 = metrics.window_means(d, 30).min(axis=1)
    assert np.array_equal(metrics.covered(small), whole30 < metrics.COVERAGE_EPS)
    assert 0.1 < metrics.coverage(small) < 0.9  # windows on both sides of the threshold
    assert metrics.local_diversity(small) == pytest.approx(metrics.window_means(d, 15).min(axis=0).mean())
    whole = metrics.window_means(metrics.frame_distances(ref, ref), 15)
    i = np.arange(len(whole))
    spread = np.where(np.abs(i[:, None] - i[None, :]) < 15, np.inf, whole).min(axis=1).mean()
    assert metrics.self_spread(metrics.Distances(ref, block=37)) == pytest.approx(spread)
    assert metrics.global_diversity(small) == pytest.approx(metrics.global_diversity(metrics.Matrix(d, block=10**6)))
    rng = np.random.default_rng(0)
    d = rng.uniform(0, 3, size=(130, 70))
    for block in (1, 7, 64):  # segments that start in one block and end in the next
        assert metrics.global_diversity(metrics.Matrix(d, block=block)) == pytest.approx(metrics.global_diversity(d))


def test_mismatched_skeleton_is_a_clear_error():
    with pytest.raises(MotionkitError, match="skeleton does not match"):
        metrics.evaluate(load("Joe_Salsa-Dancing-6"), [load("Xia_normal")])


def test_eval_cli_table_json_and_report(tmp_path):
    ref = clip("Xia_normal")
    shuffled = tmp_path / "shuffled.npz"
    from motionkit.formats import npz

    m = load("Xia_normal")
    shuffled.write_bytes(npz.write([block_shuffled(m, 80, 1), block_shuffled(m, 80, 2)]))
    proc = run_cli("eval", ref, shuffled, ref)
    out = proc.stdout.decode()
    assert "coverage" in out and "harmonic mean" in out and out.count("\n") >= 6
    report_path = tmp_path / "report.json"
    proc = run_cli("eval", ref, shuffled, "--json", "-o", report_path)
    report = json.loads(proc.stdout)
    assert report["samples"] == 2 and json.loads(report_path.read_text()) == report
    bad = run_cli("eval", ref, clip("Joe_Salsa-Dancing-6"), check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr.decode()
    short = tmp_path / "short.bvh"  # 80 frames at 120 fps: 20 at 30, shorter than a coverage window
    run_cli("convert", ref, "--frames", "0:80", "-o", short)
    for args in ((short, short), (ref, short)):
        bad = run_cli("eval", *args, check=False)
        assert bad.returncode == 1 and bad.stderr.decode().startswith("motionkit: error: motions must have at least")


def test_the_references_own_spread_reads_the_diversities():
    """The spread is how far a clip's windows lie from its other windows: about 0 for a clip that repeats itself,
    small for a nearly still idle, larger for a dance; and a sample as new as the clip's own parts (another take
    of the same motion: Salsa's second half against its first) has a local diversity of that order."""
    salsa, idle = load("Joe_Salsa-Dancing-6"), load("Elephant_idle1")
    half = salsa.frames // 4 * 2  # even: the repeat falls on a whole frame at 30 fps too
    first = salsa.replace(rotations=salsa.rotations[:half], translations=salsa.translations[:half])
    second = salsa.replace(rotations=salsa.rotations[half:], translations=salsa.translations[half:], name="second")
    twice = first.replace(rotations=np.concatenate([first.rotations] * 2),
                          translations=np.concatenate([first.translations] * 2))

    def spread(m):
        return metrics.evaluate(m, [m])["reference_spread"]

    assert spread(twice) < 0.05 < spread(idle) < 0.5 < spread(first)
    r = metrics.evaluate(first, [second])
    assert 0.5 < r["local_diversity"] / r["reference_spread"] < 2.0
