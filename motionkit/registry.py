"""The one plugin manager: built-in formats and commands come in through the same entry points as third parties'.

(Named ``registry`` because ``motionkit.plugins`` is the package of operation plugins.)"""
from __future__ import annotations

import pluggy

from . import hookspecs
from .hookspecs import Executor, Format

pm = pluggy.PluginManager("motionkit")
pm.add_hookspecs(hookspecs)

_loaded = False
_tables: dict[str, tuple[tuple, dict]] = {}  # hook → (the plugins it was built from, name → what they registered)


def load_plugins() -> pluggy.PluginManager:
    """Load every plugin in the ``motionkit`` entry-point group (built-ins included) once."""
    global _loaded
    if not _loaded:
        _loaded = True
        pm.load_setuptools_entrypoints("motionkit")
        pm.check_pending()
    return pm


def plugins_now() -> tuple:
    """Identifies the set of registered plugins: tables built from the hooks are rebuilt when it changes."""
    return tuple(id(p) for p in load_plugins().get_plugins())


def _table(hook: str) -> dict:
    """Name → what plugins registered through ``hook`` (one call, cached until a plugin is added or removed).
    Precedence is pluggy's call order: see ``motionkit.hookspecs``."""
    key = plugins_now()
    if hook not in _tables or _tables[hook][0] != key:
        table: dict = {}

        def register(item):
            table.pop(item.name, None)  # a replacement goes to the end, as if registered anew
            table[item.name] = item

        getattr(pm.hook, hook)(register=register)
        _tables[hook] = (key, table)
    return _tables[hook][1]


def formats() -> dict[str, Format]:
    """Name → Format for every registered format."""
    return _table("register_formats")


def executors() -> dict[str, Executor]:
    """Name → Executor for every registered executor (what runs a library's clips)."""
    return _table("register_executors")


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
