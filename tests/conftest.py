"""Shared fixtures: the real clips in ../shared/data/bvh (never copied into the repository)."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("MOTIONKIT_SHARED_DATA", ROOT.parent / "shared" / "data" / "bvh"))
# Without the shared clips, the tests that read them fail (they never skip) and the others still run: the
# placeholder below is a path that names the problem in every failure.
CLIPS = sorted(SHARED.glob("*.bvh")) or [SHARED / "NO-SHARED-CLIPS-HERE (set MOTIONKIT_SHARED_DATA).bvh"]

# name → (joints, end sites, frames, fps), from shared/data/bvh/README.md
EXPECTED = {
    "Joe_Salsa-Dancing-6": (65, 13, 1295, 60), "Joe_Walk-In-Circle": (65, 13, 753, 60),
    "Joe_Baseball-Milling-Idle": (65, 13, 1264, 60), "Malcolm_Gangnam-Style": (67, 15, 742, 60),
    "Crabnew_Crab-dance-long": (56, 11, 384, 30), "Elephant_idle1": (40, 11, 201, 30),
    "Elephant_idle2": (40, 11, 201, 30), "Xia_normal": (31, 7, 360, 120), "Xia_proud": (31, 7, 326, 120),
}


def clip(name: str) -> pathlib.Path:
    return SHARED / f"{name}.bvh"


@pytest.fixture(params=CLIPS, ids=[c.stem for c in CLIPS])
def any_clip(request) -> pathlib.Path:
    return request.param


def motionkit_exe() -> str:
    """The installed console script (tests drive the real command, as a user would)."""
    exe = shutil.which("motionkit") or str(pathlib.Path(sys.executable).parent / "motionkit")
    return exe


def run_cli(*args, input=None, check=True, cwd=None, timeout=None):
    """``motionkit ARGS`` in this process through Click's CliRunner (stdin ``input`` as bytes; stdout and stderr
    as bytes in the result). An exception that is not the CLI's own one-line error is re-raised: a test never
    mistakes a crash for a refusal. For what only a real process shows, use ``run_process``."""
    from click.testing import CliRunner

    from motionkit.cli import cli

    here = os.getcwd()
    os.chdir(cwd or here)
    try:
        res = CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=True)
    finally:
        os.chdir(here)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    if res.exit_code == 2 and b"internal error" in res.stderr_bytes:  # the CLI's net caught a crash: a test failure
        raise AssertionError(f"motionkit {' '.join(map(str, args))} crashed: {res.stderr_bytes.decode()}")
    proc = subprocess.CompletedProcess(args, res.exit_code, res.stdout_bytes, res.stderr_bytes)
    if check and proc.returncode != 0:
        raise AssertionError(f"motionkit {' '.join(map(str, args))} failed:\n{proc.stderr.decode()}")
    return proc


def run_process(*args, input=None, check=True, **kw):
    """The installed ``motionkit`` console script in a subprocess: real exit statuses, tracebacks, pipes."""
    proc = subprocess.run([motionkit_exe(), *map(str, args)], input=input, capture_output=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"motionkit {' '.join(map(str, args))} failed:\n{proc.stderr.decode()}")
    return proc


def require_clients() -> bool:
    """In CI the real clients must run: MOTIONKIT_REQUIRE_CLIENTS=1 turns a missing client into a failure."""
    return os.environ.get("MOTIONKIT_REQUIRE_CLIENTS") == "1"
