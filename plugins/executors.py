"""What runs a library's clips: `local` (here, one after another) and `ray` (Ray's embedded single-machine cluster,
or a cluster by address). Each is an executor plugin (see ``motionkit.hookspecs.Executor``); a third party adds
its own (Dask, a batch queue) the same way. Ray is an optional extra, imported only when the `ray` executor runs."""
from __future__ import annotations

import importlib.util
import os

from motionkit import Executor, hookimpl


def run_local(fn, jobs, settings):
    """In this process, one clip after another: a Ctrl-C stops the running clip (it keeps its finished levels)."""
    for job in jobs:
        yield job, fn(job)


def run_ray(fn, jobs, settings):
    """One Ray task per clip, asking for ``cpus`` cores (and ``gpus``); a task whose worker dies runs again up to
    ``max_retries`` times and resumes from the model file's finished levels."""
    import logging

    import ray

    started = not ray.is_initialized()
    if started:
        if settings.get("address"):
            ray.init(address=settings["address"], logging_level=logging.WARNING, log_to_driver=False)
        else:  # the embedded local cluster: jobs pass only small dicts, so a small object store; and workers at
            # normal priority (Ray's default niceness 15 lets any other process starve a training)
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False,
                     object_store_memory=128 << 20)
    task = ray.remote(fn).options(num_cpus=settings["cpus"], num_gpus=settings.get("gpus") or 0,
                                  max_retries=settings["max_retries"], retry_exceptions=False)
    refs = {task.remote(job): job for job in jobs}
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as e:  # its worker died past the retries, or it was cancelled
                    text = " ".join(str(e).split())[:300]
                    result = {"status": "failed", "error": f"{type(e).__name__}: {text}"}
                yield refs[ref], result
    finally:
        if pending:  # Ctrl-C: each running task gets a KeyboardInterrupt and writes its finished levels
            for ref in pending:
                ray.cancel(ref)
            ray.wait(pending, num_returns=len(pending), timeout=120)
        if started:
            ray.shutdown()


@hookimpl(tryfirst=True)  # built-ins: plugins registering the same name replace them
def register_executors(register):
    register(Executor("local", run_local, description="in this process, one clip after another"))
    register(Executor("ray", run_ray, available=lambda: importlib.util.find_spec("ray") is not None,
                      description="Ray: the embedded local cluster, or --address/$RAY_ADDRESS"))
