"""The hooks a motionkit plugin can implement. Implementations may accept a subset of the arguments."""
from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("motionkit")
hookimpl = HookimplMarker("motionkit")


@hookspec
def register_formats(register):
    """Add file formats: call ``register(motionkit.io.Format(...))`` once per format.

    Formats are looked up by name and extension; a later registration of a name replaces an earlier one, and
    third-party plugins are registered after the built-ins, so a plugin can override a built-in format."""


@hookspec
def register_commands(cli):
    """Add Click commands to the ``motionkit`` group: decorate functions with ``@cli.command()``."""
