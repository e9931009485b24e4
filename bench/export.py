"""A 600-frame sample from an exported model: onnxruntime against torch, same machine, same thread count.

    python bench/export.py MODEL.mkm [--frames 600] [--threads 2] [--repeat 20]

torch: ``Model.generate`` (the pyramid) plus ``features.decode`` (numpy) to joint rotations and translations, as
``motionkit sample`` does before its foot clean-up; onnxruntime: the exported graph, which does both. Prints the
median of ``--repeat`` runs after two warm-up runs, and writes the .onnx into a temporary folder."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))


def median_ms(fn, repeat: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()

    import numpy as np
    import onnxruntime as ort
    import torch

    from motionkit import features as feat
    from motionkit.modelfile import loads
    from motionkit.model import draw_noise
    from motionkit.plugins.export import onnx_model

    torch.set_num_threads(args.threads)
    with open(args.model, "rb") as fh:
        model = loads(fh.read(), args.model)
    first = model.stage_lengths(args.frames)[0]
    rng = torch.Generator().manual_seed(0)
    noise = draw_noise(model.config, (1, sum(model.widths), first), rng=rng)
    noise = noise if model.config.noise == "full" else noise[:, :1].contiguous()
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        with open(path, "wb") as fh:
            fh.write(onnx_model(model).SerializeToString())
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feeds = {"noise": noise.numpy(), "frames": np.array([args.frames], np.int64)}

    def with_torch():
        x = model.generate(1, args.frames, torch.Generator().manual_seed(0))
        return feat.decode(x[0].T.numpy(), model.enc)

    torch_ms = median_ms(with_torch, args.repeat)
    ort_ms = median_ms(lambda: session.run(None, feeds), args.repeat)
    print(f"{os.path.basename(args.model)}: {args.frames} frames, {args.threads} thread(s): torch + decode "
          f"{torch_ms:.1f} ms, onnxruntime {ort_ms:.1f} ms ({ort.__version__}, torch {torch.__version__})")


if __name__ == "__main__":
    main()
