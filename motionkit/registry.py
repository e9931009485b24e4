"""The one plugin manager: built-in formats and commands come in through the same entry points as third parties'."""
from __future__ import annotations

import pluggy

from . import hookspecs

pm = pluggy.PluginManager("motionkit")
pm.add_hookspecs(hookspecs)

_loaded = False


def load_plugins() -> pluggy.PluginManager:
    """Load every plugin in the ``motionkit`` entry-point group (built-ins included) once."""
    global _loaded
    if not _loaded:
        _loaded = True
        pm.load_setuptools_entrypoints("motionkit")
        pm.check_pending()
    return pm


def formats() -> dict:
    """Name → Format for every registered format, in registration order (built-ins first)."""
    from .io import Format

    load_plugins()
    found: dict[str, Format] = {}

    def register(fmt: Format):
        found[fmt.name] = fmt

    # Built-ins register first, then third-party plugins, so a plugin may replace a built-in format by name.
    impls = sorted(pm.hook.register_formats.get_hookimpls(), key=lambda i: not _builtin(i.plugin))
    for impl in impls:
        impl.function(**{name: register for name in impl.argnames})
    return found


def _builtin(plugin) -> bool:
    return getattr(plugin, "__name__", "").startswith("motionkit.")


def plugin_list() -> list[dict]:
    """What is loaded: each plugin's name, the hooks it implements and the distribution it came from."""
    load_plugins()
    dists = {id(p): d for p, d in pm.list_plugin_distinfo()}
    out = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist = dists.get(id(plugin))
        entry = {"name": name, "hooks": hooks}
        if dist is not None:
            entry["distribution"] = dist.project_name
            entry["version"] = dist.version
        out.append(entry)
    return sorted(out, key=lambda e: e["name"])
