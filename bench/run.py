"""Benchmarks: time what users wait for. Median of repeats, comparisons side by side in the same run.

    python bench/run.py           # full: writes bench/results.json and BENCHMARKS.md
    python bench/run.py --quick   # CI: fewer repeats, prints the table, writes nothing in the repository
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("MOTIONKIT_SHARED_DATA", ROOT.parent / "shared" / "data" / "bvh"))
SALSA = SHARED / "Joe_Salsa-Dancing-6.bvh"


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{cpu}, {cores} cores, {mem:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def bench_bvh_read(repeats):
    from motionkit.formats import bvh

    data = SALSA.read_bytes()
    ours = median_time(lambda: bvh.read(data, str(SALSA)), repeats)
    row = {"name": "BVH read, Salsa (1295 frames, 65 joints)", "motionkit_s": ours}
    try:
        import bvhio  # test-only oracle

        theirs = median_time(lambda: bvhio.readAsHierarchy(str(SALSA)), max(1, repeats // 2))
        row.update(bvhio_s=theirs, speedup=theirs / ours)
    except ImportError:
        row["bvhio_s"] = None
    return row


def bench_gltf_write(repeats):
    from motionkit.formats import gltf
    from motionkit.files import read_motions

    m = read_motions(str(SALSA))[0]
    return {"name": "glTF (.glb) write, Salsa", "motionkit_s": median_time(lambda: gltf.write_glb([m], {}), repeats)}


def bench_convert(repeats):
    exe = pathlib.Path(sys.executable).parent / "motionkit"
    with tempfile.TemporaryDirectory() as d:
        out = pathlib.Path(d) / "s.glb"
        t = median_time(lambda: subprocess.run([str(exe), "convert", str(SALSA), "-o", str(out)], check=True,
                                               capture_output=True), repeats)
    return {"name": "`motionkit convert Salsa.bvh -o s.glb` (whole command)", "motionkit_s": t}


def bench_startup(repeats):
    exe = pathlib.Path(sys.executable).parent / "motionkit"
    t = median_time(lambda: subprocess.run([str(exe), "--help"], check=True, capture_output=True), repeats)
    row = {"name": "CLI start-up (`motionkit --help`)", "motionkit_s": t}
    if subprocess.run([sys.executable, "-c", "import torch"], capture_output=True).returncode == 0:
        row["import_torch_s"] = median_time(lambda: subprocess.run([sys.executable, "-c", "import torch"]),
                                            max(1, repeats // 2))
    return row


EVAL_CHILD = """
import resource, sys, time, json
import numpy as np
from motionkit.files import read_motions
from motionkit.metrics import evaluate
ref = read_motions(sys.argv[1])[0].resampled(30)
rng = np.random.default_rng(0)
samples = []
for k in range(20):  # 20 samples at twice the reference length (1296 frames), made of shuffled 20-frame blocks
    idx = np.concatenate([np.arange(b * 20, b * 20 + 20) for b in rng.permutation(ref.frames // 20)] * 2)
    samples.append(ref.replace(rotations=ref.rotations[idx], translations=ref.translations[idx], name=str(k)))
t = time.perf_counter()
r = evaluate(ref, samples)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "frames": [ref.frames, samples[0].frames]}))
"""


def bench_eval(repeats):
    runs = [json.loads(subprocess.run([sys.executable, "-c", EVAL_CHILD, str(SALSA)], check=True,
                                      capture_output=True, text=True).stdout) for _ in range(max(1, repeats // 3))]
    best = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {"name": f"`eval`: {best['frames'][0]}-frame reference vs 20 samples of {best['frames'][1]} frames",
            "motionkit_s": best["seconds"], "peak_rss_mb": best["peak_rss_mb"]}


BIG_CHILD = """
import resource, sys
from motionkit.formats import bvh
data = open(sys.argv[1], "rb").read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if sys.argv[2] == "read":
    m = bvh.read(data, sys.argv[1])[0]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def bench_big_bvh(repeats):
    """Peak memory of reading a ~25 MB BVH (Salsa's frames repeated): the whole process, and the same process
    with the file's bytes loaded but not parsed (interpreter, numpy and the bytes themselves)."""
    data = SALSA.read_bytes()
    head, _, body = data.partition(b"MOTION")
    lines = body.split(b"\n")
    frames = [line for line in lines[3:] if line.strip()]
    copies = max(1, round(25e6 / len(b"\n".join(frames))))
    big = head + b"MOTION\nFrames: " + str(len(frames) * copies).encode() + b"\n" + lines[2] + b"\n" \
        + b"\n".join(frames * copies) + b"\n"
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "big.bvh"
        path.write_bytes(big)
        peak = float(subprocess.run([sys.executable, "-c", BIG_CHILD, str(path), "read"], check=True,
                                    capture_output=True, text=True).stdout)
        bare = float(subprocess.run([sys.executable, "-c", BIG_CHILD, str(path), "load"], check=True,
                                    capture_output=True, text=True).stdout)
        t = median_time(lambda: subprocess.run([sys.executable, "-c", BIG_CHILD, str(path), "read"], check=True,
                                               capture_output=True), max(1, repeats // 3))
    mb = len(big) / 2 ** 20
    return {"name": f"BVH read, {mb:.0f} MB ({len(frames) * copies} frames of Salsa), whole process", "motionkit_s": t,
            "peak_rss_mb": peak, "note": f"{peak / mb:.1f}× the file; {bare:.0f} MB before parsing"}


def table(rows) -> str:
    out = ["| benchmark | motionkit | reference | ratio |", "|---|---|---|---|"]
    for r in rows:
        ref, ratio = "", ""
        if r.get("bvhio_s"):
            ref, ratio = f"bvhio {r['bvhio_s'] * 1000:.0f} ms", f"{r['speedup']:.1f}× faster"
        if r.get("import_torch_s"):
            ref = f"`python -c 'import torch'` {r['import_torch_s'] * 1000:.0f} ms"
        if r.get("peak_rss_mb"):
            ref = f"peak RSS {r['peak_rss_mb']:.0f} MB (whole process)"
            ratio = r.get("note", "")
        out.append(f"| {r['name']} | {r['motionkit_s'] * 1000:.0f} ms | {ref} | {ratio} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="few repeats, print only (CI)")
    args = ap.parse_args()
    n = 3 if args.quick else 15
    rows = [bench_bvh_read(n), bench_gltf_write(n), bench_convert(max(3, n // 3)), bench_startup(max(3, n // 3)),
            bench_eval(n), bench_big_bvh(n)]
    desc = machine()
    md = table(rows)
    print(f"machine: {desc}\n{md}")
    if args.quick:
        return
    (ROOT / "bench" / "results.json").write_text(json.dumps({"machine": desc, "rows": rows}, indent=2) + "\n")
    # Only this script's section is rewritten; the training and operations sections come from their own scripts.
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n\n<!-- run.py -->\n<!-- /run.py -->\n"
    head, _, rest = text.partition("<!-- run.py -->")
    _, _, tail = rest.partition("<!-- /run.py -->")
    section = ("Measured with `python bench/run.py` (median of repeats; comparisons side by side in the same run)."
               f"\n\nMachine: {desc}\n\n{md}\n")
    path.write_text(f"{head}<!-- run.py -->\n{section}<!-- /run.py -->{tail}")

if __name__ == "__main__":
    main()
