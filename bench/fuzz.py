"""Fuzzing every reader with crafted files (tests/fuzzing.py: structural mutations of good files — JSON fields,
indices, counts, strides, chunk lengths, huge declared sizes, cycles — and byte flips, truncations, insertions).
Every case must end in a one-line MotionkitError or in a finite motion that writes and reads back (for model
files: a model that generates finite motion). Counts the cases, the failures (must be 0), the time and the peak
memory of the process; the address space is capped at 4 GiB so that a runaway allocation fails loudly.

    python bench/fuzz.py [--cases 10000] [--formats bvh,glb,gltf,npz,model] [--seed 0]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--formats", default="bvh,glb,gltf,npz,model")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("MOTIONKIT_MAX_VALUES", "2000000")
    import numpy as np
    import torch  # noqa: F401  (imported before the cap: its own reservations are not ours)

    import fuzzing
    from test_fuzz import FORMATS, model_seed, seeds

    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    print("| format | cases | read | refused | failures | wall | peak RSS |\n|---|---|---|---|---|---|---|", flush=True)
    total_failures = 0
    for name in args.formats.split(","):
        counts = {"read": 0, "refused": 0}
        failures = []
        started = time.perf_counter()
        for case in range(args.cases):
            rng = np.random.default_rng([args.seed, case])
            try:
                if name == "model":
                    data = model_seed()
                    for _ in range(int(rng.integers(1, 3))):
                        data = fuzzing.mutate_model(data, rng)
                    outcome = fuzzing.check_model(data)
                else:
                    read, write = FORMATS[name]
                    data = seeds(name)[int(rng.integers(len(seeds(name))))]
                    for _ in range(int(rng.integers(1, 3))):
                        data = fuzzing.MUTATORS[name](data, rng)
                    outcome = fuzzing.check(read, write, data, f"crafted.{name}")
                counts[outcome] += 1
            except BaseException as e:  # noqa: BLE001 — every other ending is a failure to report
                if isinstance(e, KeyboardInterrupt):
                    raise
                where = traceback.extract_tb(e.__traceback__)[-1]
                failures.append(f"case {case}: {type(e).__name__} at {os.path.basename(where.filename)}:"
                                f"{where.lineno}: {str(e)[:120]}")
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        total_failures += len(failures)
        print(f"| {name} | {args.cases} | {counts['read']} | {counts['refused']} | {len(failures)} | {wall:.0f} s | "
              f"{peak:.0f} MB |", flush=True)
        for f in failures[:10]:
            print(f"  {f}", file=sys.stderr)
    sys.exit(1 if total_failures else 0)


if __name__ == "__main__":
    main()
