"""The Click app: thin. Commands come from plugins (built-ins included) through ``register_commands``."""
from __future__ import annotations

import json
import sys

import click

from motionkit import __version__
from motionkit.errors import MotionkitError


class MotionkitGroup(click.Group):
    """Commands from the plugins' ``register_commands`` hook, called again whenever the set of plugins changes (so
    a plugin registered after start-up gets its commands). Turns a MotionkitError into one line on stderr and exit
    status 1; ``--debug`` shows the traceback."""

    _core: dict | None = None  # the commands defined here, before any plugin's
    _seen: tuple | None = None

    def sync_plugins(self):
        from motionkit.registry import plugins_now, pm

        key = plugins_now()
        if key != self._seen:
            if self._core is None:
                self._core = dict(self.commands)
            self.commands = dict(self._core)
            pm.hook.register_commands(cli=self)
            self._seen = key

    def list_commands(self, ctx):
        self.sync_plugins()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self.sync_plugins()
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MotionkitError as e:
            if ctx.params.get("debug"):
                raise
            click.echo(f"motionkit: error: {e}", err=True)
            ctx.exit(1)
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (| head): not our error
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("motionkit: interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as e:  # a bug of ours: still one line, and a status that says so
            if ctx.params.get("debug"):
                raise
            text = " ".join(str(e).split())[:200]
            click.echo(f"motionkit: internal error: {type(e).__name__}: {text} (run with --debug and report it)",
                       err=True)
            ctx.exit(2)


@click.group(cls=MotionkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="motionkit")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
def cli(debug):
    """Many believable variations of one motion clip.

    Files are BVH, glTF (.glb/.gltf) or NPZ; '-' reads stdin or writes stdout (NPZ on a pipe)."""


@cli.command(name="formats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def formats_command(as_json):
    """List the motion file formats that are loaded."""
    from motionkit.registry import formats

    rows = [{"name": f.name, "extensions": list(f.extensions), "read": f.read is not None,
             "write": f.write is not None, "multiple": f.multiple, "description": f.description}
            for f in sorted(formats().values(), key=lambda f: f.name)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        rw = ("r" if r["read"] else "-") + ("w" if r["write"] else "-")
        click.echo(f"{r['name']:<8} {rw}  {' '.join(r['extensions']):<12} {r['description']}")


@cli.command(name="plugins")
def plugins_command():
    """List the loaded plugins (JSON), built-ins included."""
    from motionkit.registry import plugin_list

    click.echo(json.dumps(plugin_list(), indent=2))


def main(argv=None):
    return cli.main(args=argv, prog_name="motionkit")
