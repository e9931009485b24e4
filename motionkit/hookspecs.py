"""What a motionkit plugin can implement, and the contract of what it registers.

A plugin is a module (or object) with functions decorated ``@motionkit.hookimpl``, listed in its distribution's
``motionkit`` entry-point group; motionkit's own formats and commands are registered the same way. An
implementation may accept a subset of a hook's arguments, so hooks can grow without breaking plugins.

Who wins a name: pluggy calls implementations in its order — ``tryfirst`` ones first, then the others from the
most recently registered to the first. Every built-in implementation is ``tryfirst``, so the built-ins always
register first and any plugin that registers the same format or command name afterwards replaces them. Between two
third-party plugins, the one registered (loaded) first is called last, so its registration is the one that stays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("motionkit")
hookimpl = HookimplMarker("motionkit")


@dataclass(frozen=True)
class Format:
    """A motion file format, as a plugin registers it.

    - ``read(data: bytes, source: str) -> list[Motion]`` (``None``: cannot read). ``source`` names the file in
      errors; bad input raises ``motionkit.errors.MotionkitError``, never anything else.
    - ``write(motions: list[Motion], options: dict) -> bytes`` (``None``: cannot write).
    - ``sniff(head: bytes) -> bool``: whether the first 64 bytes of a file look like this format.
    - ``extensions``: with the dot (``(".bvh",)``); ``binary``: bytes unfit for a terminal; ``multiple``: one file
      can hold several motions.
    - ``y_up``: the format itself says +Y is up (glTF's rule; motionkit's NPZ): its motions are taken as they
      stand. Otherwise (BVH has no rule) each motion's up axis is found from what it does when it is read
      (``files.standing_up``).
    """

    name: str
    extensions: tuple[str, ...]
    read: Callable | None
    write: Callable | None
    sniff: Callable[[bytes], bool]
    binary: bool
    multiple: bool
    description: str = ""
    y_up: bool = False


@dataclass(frozen=True)
class Executor:
    """What runs a library's training jobs (one per clip), as a plugin registers it.

    - ``run(fn, jobs, settings)``: call the top-level function ``fn`` once per job (a dict of plain values) and
      yield ``(job, result)`` as each ends, in any order; ``result`` is what ``fn`` returned, or, when the job
      could not run to its end (its worker died more than ``settings["max_retries"]`` times, …), a dict
      ``{"status": "failed", "error": "one line"}``. ``fn`` never raises for a bad clip: it returns a failed
      result itself. ``settings``: ``cpus`` and ``gpus`` per job, ``max_retries``, ``address`` (or None). A job
      run again after a crash resumes from the model file's finished levels. When the caller stops iterating
      (Ctrl-C), the executor cancels what is still running — ``fn`` gets a KeyboardInterrupt and keeps its
      finished levels — before it returns.
    - ``available()``: whether it can run here (its library is installed); the default executor is the first
      available of ``ray`` and ``local``.
    """

    name: str
    run: Callable
    available: Callable[[], bool] = lambda: True
    description: str = ""


@hookspec
def register_formats(register):
    """Add file formats: call ``register(motionkit.Format(...))`` once per format.

    The last registration of a name stands: built-ins register first (their implementations are ``tryfirst``),
    so a plugin's format of the same name replaces a built-in; of two plugins, the first loaded wins."""


@hookspec
def register_commands(cli):
    """Add Click commands to the ``motionkit`` group: decorate functions with ``@cli.command()``.

    The last command added under a name stands: built-ins add theirs first (``tryfirst``), so a plugin's command
    of the same name replaces a built-in; of two plugins, the first loaded wins."""


@hookspec
def register_executors(register):
    """Add executors for libraries (`motionkit train CLIPS... -o FOLDER/`): call ``register(motionkit.Executor(...))``.

    The last registration of a name stands: built-ins (``local``, ``ray``) register first, so a plugin's executor
    of the same name replaces a built-in; of two plugins, the first loaded wins."""
