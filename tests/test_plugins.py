"""The plugin system: built-ins arrive through entry points; a third-party format and command work from the CLI."""
import json

import click
import numpy as np
from click.testing import CliRunner
from conftest import clip

from motionkit import hookimpl
from motionkit import Format
from motionkit.cli import cli
from motionkit.registry import formats, load_plugins, plugin_list


def test_builtins_come_through_entry_points():
    pm = load_plugins()
    names = {pm.get_name(p) for p in pm.get_plugins()}
    assert {"bvh", "gltf", "npz", "info", "convert", "example"} <= names
    listed = {p["name"]: p for p in plugin_list()}
    assert listed["bvh"]["distribution"] == "motionkit"
    assert "register_formats" in listed["bvh"]["hooks"]
    assert set(formats()) >= {"bvh", "glb", "gltf", "npz"}


class ThirdParty:
    """A third-party plugin: a CSV-of-root-positions format and a `height` command."""

    __name__ = "thirdparty_csv"

    @hookimpl
    def register_formats(self, register):
        def write(motions, options):
            rows = ["frame,x,y,z"] + [f"{i},{x:.6f},{y:.6f},{z:.6f}"
                                      for i, (x, y, z) in enumerate(motions[0].root_translation)]
            return ("\n".join(rows) + "\n").encode()

        register(Format(name="rootcsv", extensions=(".rootcsv",), read=None, write=write,
                        sniff=lambda head: False, binary=False, multiple=False, description="root path as CSV"))

    @hookimpl
    def register_commands(self, cli):
        @cli.command(name="height")
        @click.argument("file")
        def height(file):
            from motionkit.files import read_motions

            click.echo(f"{read_motions(file)[0].skeleton.height():.3f}")


def test_third_party_format_and_command_from_the_cli(tmp_path):
    pm = load_plugins()
    plugin = ThirdParty()
    pm.register(plugin, name="thirdparty_csv")
    try:
        runner = CliRunner()
        res = runner.invoke(cli, ["formats", "--json"])
        assert "rootcsv" in [f["name"] for f in json.loads(res.output)]
        out = tmp_path / "root.rootcsv"
        res = runner.invoke(cli, ["convert", str(clip("Xia_normal")), "-o", str(out)])
        assert res.exit_code == 0, res.output
        lines = out.read_text().splitlines()
        assert lines[0] == "frame,x,y,z" and len(lines) == 361
        assert float(lines[1].split(",")[1]) == np.float64(-22.192345)
        res = runner.invoke(cli, ["height", str(clip("Xia_normal"))])
        assert res.exit_code == 0 and float(res.output) > 20
        res = runner.invoke(cli, ["plugins"])
        assert "thirdparty_csv" in [p["name"] for p in json.loads(res.output)]
    finally:
        pm.unregister(plugin)
        cli.commands.pop("height", None)
    assert "rootcsv" not in formats()
