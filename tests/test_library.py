"""A library: several clips → one model each, on an executor (local, Ray, a plugin's), with a manifest; faults
(a bad clip, a dead worker, Ctrl-C) cost only what they must, and running the same command again finishes the job."""
from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import time

import pytest
import torch

from conftest import clip, motionkit_exe, require_clients, run_cli, run_process
from motionkit import Executor, hookimpl
from motionkit.files import read_bytes
from motionkit.modelfile import dumps, loads
from motionkit.registry import executors, load_plugins

TINY = ("--iterations", "1", "--seed", "3")


def manifest(folder) -> list[dict]:
    return [json.loads(line) for line in (pathlib.Path(folder) / "manifest.jsonl").read_text().splitlines()]


def model(path):
    return loads(read_bytes(str(path)), str(path))


def need_ray():
    """Ray is an optional extra: without it these tests skip, except in CI (.ci/run installs it), where a missing
    Ray is a failure."""
    if require_clients():
        import ray  # noqa: F401
    pytest.importorskip("ray", reason="pip install 'motionkit[ray]' (.ci/run installs it)")


def ray_workers() -> list[int]:
    """PIDs of Ray workers running our training task (Ray names the process after the task it runs)."""
    pids = []
    for d in pathlib.Path("/proc").iterdir():
        try:
            if d.name.isdigit() and (d / "cmdline").read_bytes().startswith(b"ray::train_job"):
                pids.append(int(d.name))
        except OSError:
            pass
    return pids


def test_local_library_trains_each_clip_once_and_a_bad_clip_fails_alone(tmp_path):
    bad = tmp_path / "broken.bvh"
    bad.write_bytes(read_bytes(str(clip("Xia_proud")))[:900])  # cut inside the hierarchy
    out = tmp_path / "models"
    res = run_cli("train", clip("Xia_proud"), clip("Xia_normal"), bad, "-o", f"{out}/", "--executor", "local",
                  "--eval", *TINY, check=False)
    assert res.returncode == 1
    assert b"1 of 3 clips failed" in res.stderr and b"Traceback" not in res.stderr
    lines = {pathlib.Path(e["clip"]).name: e for e in manifest(out)}
    assert {k: e["status"] for k, e in lines.items()} == {"Xia_proud.bvh": "done", "Xia_normal.bvh": "done",
                                                          "broken.bvh": "failed"}
    assert "broken.bvh" in lines["broken.bvh"]["error"] and lines["Xia_proud.bvh"]["error"] is None
    for name in ("Xia_proud", "Xia_normal"):
        m = model(out / f"{name}.mkm")
        assert m.trained_levels == len(m.levels) and m.provenance["clip"] == f"{name}.bvh"
        e = lines[f"{name}.bvh"]
        assert e["model"] == str(out / f"{name}.mkm") and e["wall_s"] > 0 and e["peak_mb"] > 50
        assert 0 < e["coverage"] <= 1 and e["global_diversity"] > 0 and e["body_speed"] > 0  # --eval's scores
    assert not (out / "broken.mkm").exists()
    before = {p.name: p.read_bytes() for p in out.glob("*.mkm")}
    res = run_cli("train", clip("Xia_proud"), clip("Xia_normal"), "-o", f"{out}/", "--executor", "local", *TINY)
    assert [e["status"] for e in manifest(out)[3:]] == ["skipped", "skipped"]
    assert {p.name: p.read_bytes() for p in out.glob("*.mkm")} == before
    table = json.loads(run_cli("library", out, "--json").stdout)
    assert {pathlib.Path(e["clip"]).name: e["status"] for e in table} == {
        "Xia_proud.bvh": "done", "Xia_normal.bvh": "done", "broken.bvh": "failed"}
    text = run_cli("library", out).stdout.decode()
    assert "2 with a model, 1 failed" in text and "broken.bvh" in text


def test_a_third_party_executor_runs_the_library(tmp_path):
    ran = []

    class Inline:  # what a Dask plugin would be: here, the jobs run in-process, last first
        @hookimpl
        def register_executors(self, register):
            def run(fn, jobs, settings):
                for job in reversed(jobs):
                    ran.append((pathlib.Path(job["clip"]).name, settings["cpus"]))
                    yield job, fn(job)

            register(Executor("inline", run, description="in-process, last clip first"))

    pm = load_plugins()
    plugin = Inline()
    pm.register(plugin, name="inline_executor")
    try:
        folder = tmp_path / "clips"
        folder.mkdir()
        for name in ("Xia_proud", "Xia_normal"):
            (folder / f"{name}.bvh").write_bytes(read_bytes(str(clip(name))))
        (folder / "notes.txt").write_text("not a clip")
        out = tmp_path / "models"
        run_cli("train", folder, "-o", out, "--executor", "inline", "--cpus-per-job", "1", *TINY)
        assert ran == [("Xia_proud.bvh", 1), ("Xia_normal.bvh", 1)]  # the folder's clips, sorted, run last first
        assert {e["executor"] for e in manifest(out)} == {"inline"}
        assert sorted(p.name for p in out.glob("*.mkm")) == ["Xia_normal.mkm", "Xia_proud.mkm"]
    finally:
        pm.unregister(plugin)
    assert "inline" not in executors()
    res = run_cli("train", folder, "-o", out, "--executor", "inline", check=False)
    assert res.returncode == 1 and b"no such executor" in res.stderr


def test_an_executor_that_loses_a_job_fails_that_clip_by_name(tmp_path):
    class Lossy:  # a cluster that lost every node: the executor reports failures that name no clip
        @hookimpl
        def register_executors(self, register):
            def run(fn, jobs, settings):
                for job in jobs:
                    yield job, {"status": "failed", "error": "WorkerCrashedError: node lost"}

            register(Executor("lossy", run))

    pm = load_plugins()
    plugin = Lossy()
    pm.register(plugin, name="lossy_executor")
    try:
        out = tmp_path / "models"
        res = run_cli("train", clip("Xia_proud"), clip("Xia_normal"), "-o", f"{out}/", "--executor", "lossy",
                      check=False)
    finally:
        pm.unregister(plugin)
    assert res.returncode == 1 and b"2 of 2 clips failed" in res.stderr
    assert [(pathlib.Path(e["clip"]).name, e["status"], e["error"]) for e in manifest(out)] == [
        ("Xia_proud.bvh", "failed", "WorkerCrashedError: node lost"),
        ("Xia_normal.bvh", "failed", "WorkerCrashedError: node lost")]
    assert all(e["model"].endswith(".mkm") and e["sha256"] for e in manifest(out))


def test_clips_of_the_same_name_never_share_a_model_file(tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "take.bvh").write_bytes(read_bytes(str(clip("Xia_proud"))))
    listing = f"{tmp_path / 'a' / 'take.bvh'}\n\n# a comment\n{tmp_path / 'b' / 'take.bvh'}\n"
    out = tmp_path / "models"
    run_cli("train", "-", "-o", f"{out}/", "--executor", "local", *TINY, input=listing.encode())
    models = sorted(e["model"] for e in manifest(out))
    assert len(set(models)) == 2 and all(pathlib.Path(m).exists() for m in models)
    res = run_cli("train", clip("Xia_proud"), clip("Xia_normal"), "-o", clip("Xia_proud"), check=False)
    assert res.returncode == 1 and b"folder" in res.stderr


def default_sigint():
    """A child started from a shell job (or CI) may inherit SIGINT ignored; a user's Ctrl-C reaches a foreground
    process that handles it, so the child gets the default disposition back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_level(proc, target, levels: int, limit: float = 300):
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        try:
            if model(target).trained_levels >= levels:
                return
        except Exception:  # not there yet
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"no checkpoint with {levels} levels in {target}: {proc.communicate()[1].decode()[-500:]}")


def test_ctrl_c_keeps_finished_levels_and_the_same_command_finishes_the_job(tmp_path):
    out = tmp_path / "models"
    args = [motionkit_exe(), "train", str(clip("Xia_proud")), "-o", f"{out}/", "--executor", "local",
            "--iterations", "1,1,1,150", "--seed", "3"]  # Ctrl-C lands in levels 2-4 (seconds, at least)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=default_sigint)
    target = out / "Xia_proud.mkm"
    wait_for_level(proc, target, 1)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("Ctrl-C did not stop the library") from None
    assert proc.returncode == 130 and b"Traceback" not in err, err.decode()
    partial = model(target)
    assert 1 <= partial.trained_levels < len(partial.levels)
    assert not (out / "manifest.jsonl").exists()  # nothing finished, nothing claimed
    with torch.no_grad():  # mark the finished level: a resumed run keeps it, a fresh one would retrain it
        first = partial.generators[0].layers[0]
        next(first.parameters()).mul_(1.5)
    target.write_bytes(dumps(partial))
    marked = [p.clone() for p in first.parameters()]
    res = run_process(*args[1:])  # the same command again
    entry = manifest(out)[-1]
    assert entry["status"] == "done" and entry["resumed_from_level"] == partial.trained_levels, res.stderr.decode()
    final = model(target)
    assert final.trained_levels == len(partial.levels)
    for a, b in zip(final.generators[0].layers[0].parameters(), marked):
        assert torch.equal(a, b)


def test_ray_library_bad_clip_and_rerun(tmp_path):
    need_ray()
    bad = tmp_path / "broken.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 3 Xrotation\n")  # a count that lies
    out = tmp_path / "models"
    clips = [clip("Xia_proud"), clip("Xia_normal"), clip("Elephant_idle1")]
    res = run_process("train", *clips, bad, "-o", f"{out}/", "--executor", "ray", "--cpus-per-job", "1", *TINY,
                      check=False)
    assert res.returncode == 1 and b"1 of 4 clips failed" in res.stderr and b"Traceback" not in res.stderr
    status = {pathlib.Path(e["clip"]).stem: e["status"] for e in manifest(out)}
    assert status == {"Xia_proud": "done", "Xia_normal": "done", "Elephant_idle1": "done", "broken": "failed"}
    assert {e["executor"] for e in manifest(out)} == {"ray"}
    for c in clips:
        m = model(out / f"{c.stem}.mkm")
        assert m.trained_levels == len(m.levels)
    res = run_process("train", *clips, "-o", f"{out}/", "--executor", "ray", *TINY)
    assert [e["status"] for e in manifest(out)[4:]] == ["skipped"] * 3


def test_ray_retries_a_task_whose_worker_died_and_it_resumes(tmp_path):
    need_ray()
    out = tmp_path / "models"
    args = [motionkit_exe(), "train", str(clip("Xia_proud")), "-o", f"{out}/", "--executor", "ray",
            "--cpus-per-job", "1", "--max-retries", "2", "--iterations", "1,1,1,400", "--seed", "3"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    target = out / "Xia_proud.mkm"
    wait_for_level(proc, target, 1)
    victims = ray_workers()
    assert victims, "no Ray worker running the training"
    for pid in victims:  # the fault: the worker dies mid-task, as on a lost node
        os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()
    entry = manifest(out)[-1]
    assert entry["status"] == "done" and entry["resumed_from_level"] >= 1
    m = model(target)
    assert m.trained_levels == len(m.levels)


def test_library_needs_a_folder_and_says_so(tmp_path):
    res = run_cli("train", clip("Xia_proud"), clip("Xia_normal"), check=False)
    assert res.returncode == 1 and b"-o FOLDER" in res.stderr
    res = run_cli("library", tmp_path, check=False)
    assert res.returncode == 1 and b"no manifest" in res.stderr
    (tmp_path / "manifest.jsonl").write_text('{"clip": "a.bvh", "status": "done"}\n[1, 2]\n')
    res = run_cli("library", tmp_path, check=False)
    assert res.returncode == 1 and b"line 2 is not a manifest entry" in res.stderr


@pytest.fixture(scope="module")
def two_takes(tmp_path_factory):
    """Two tiny models of one rig (Xia's two styles), as a library leaves them."""
    out = tmp_path_factory.mktemp("takes")
    run_cli("train", clip("Xia_proud"), clip("Xia_normal"), "-o", f"{out}/", "--executor", "local", *TINY)
    return out


def test_sample_from_several_models_names_each_models_motions(two_takes, tmp_path):
    from motionkit.files import read_motions

    run_cli("sample", "-m", str(two_takes / "*.mkm"), "-n", "2", "--seconds", "1", "-o", tmp_path / "s_%s.bvh")
    names = sorted(p.name for p in tmp_path.glob("s_*.bvh"))
    assert names == ["s_Xia_normal_000.bvh", "s_Xia_normal_001.bvh", "s_Xia_proud_000.bvh", "s_Xia_proud_001.bvh"]
    run_cli("sample", "-m", two_takes / "Xia_proud.mkm", "-m", two_takes / "Xia_normal.mkm", "-n", "1",
            "--seconds", "1", "-o", tmp_path / "all.npz")
    both = read_motions(str(tmp_path / "all.npz"))
    assert [m.name for m in both] == ["Xia_proud_000", "Xia_normal_000"]
    assert [m.metadata["model"] for m in both] == [str(two_takes / "Xia_proud.mkm"), str(two_takes / "Xia_normal.mkm")]


def test_a_crowd_mixes_the_takes_of_one_rig_and_refuses_two_rigs(two_takes, tmp_path):
    from motionkit.files import read_motions

    run_cli("crowd", "-m", str(two_takes / "*.mkm"), "-n", "5", "--seconds", "1", "-o", tmp_path / "c.npz")
    crowd = read_motions(str(tmp_path / "c.npz"))
    assert sorted(m.name.rsplit("_", 1)[0] for m in crowd) == ["Xia_normal"] * 3 + ["Xia_proud"] * 2  # dealt in turn, the glob sorted
    run_cli("example", "--seconds", "2", "-o", tmp_path / "dancer.bvh")
    run_cli("train", tmp_path / "dancer.bvh", "-o", tmp_path / "dancer.mkm", "--no-plots", *TINY, cwd=tmp_path)
    res = run_cli("crowd", "-m", two_takes / "Xia_proud.mkm", "-m", tmp_path / "dancer.mkm", "-n", "2",
                  "-o", tmp_path / "mixed.npz", check=False)
    assert res.returncode == 1 and b"one rig" in res.stderr and not (tmp_path / "mixed.npz").exists()


def test_eval_scores_each_model(two_takes):
    reports = json.loads(run_cli("eval", "-m", str(two_takes / "*.mkm"), "-n", "2", "--json").stdout)
    assert [pathlib.Path(r["model"]).name for r in reports] == ["Xia_normal.mkm", "Xia_proud.mkm"]
    assert all(0 <= r["coverage"] <= 1 and r["samples"] == 2 for r in reports)
    assert reports[0]["reference"] != reports[1]["reference"]  # each against its own clip
    table = run_cli("eval", "-m", two_takes / "Xia_proud.mkm", "-m", two_takes / "Xia_normal.mkm", "-n", "2")
    assert [line.split()[0] for line in table.stdout.decode().splitlines()[1:]] == ["Xia_proud.mkm", "Xia_normal.mkm"]
    res = run_cli("eval", "-m", str(two_takes / "none*.mkm"), check=False)
    assert res.returncode == 1 and b"no model file matches" in res.stderr
