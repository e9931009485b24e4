"""The plugin system: built-ins arrive through entry points; a third-party format and command work from the CLI."""
import json
import os

import click
import numpy as np
from click.testing import CliRunner
from conftest import clip, run_process

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

        from motionkit.formats import npz  # and a replacement for a built-in format, which must win

        register(Format(name="npz", extensions=(".npz",), read=npz.read, write=npz.write, sniff=npz.sniff,
                        binary=True, multiple=True, description="third-party npz"))
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
    assert "height" not in CliRunner().invoke(cli, ["--help"]).output  # the CLI has started
    plugin = ThirdParty()
    pm.register(plugin, name="thirdparty_csv")
    try:
        runner = CliRunner()
        assert "height" in runner.invoke(cli, ["--help"]).output  # registered after start-up: still there
        res = runner.invoke(cli, ["formats", "--json"])
        listed = {f["name"]: f for f in json.loads(res.output)}
        assert "rootcsv" in listed and listed["npz"]["description"] == "third-party npz"
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
    assert "height" not in CliRunner().invoke(cli, ["--help"]).output
    assert "rootcsv" not in formats() and formats()["npz"].description != "third-party npz"


def test_an_installed_plugin_is_found_through_its_entry_point(tmp_path):
    """A real third-party distribution (a dist-info folder on the path, as pip leaves it): its command shows in
    `motionkit --help` and runs, its format replaces the built-in of the same name, with no code of ours naming it."""
    (tmp_path / "mk_hello.py").write_text('''
import click
import motionkit
from motionkit.formats import npz


@motionkit.hookimpl
def register_commands(cli):
    @cli.command(name="hello")
    def hello():
        """Say hello from a plugin."""
        click.echo("hello from mk_hello")


@motionkit.hookimpl
def register_formats(register):
    register(motionkit.Format(name="npz", extensions=(".npz",), read=npz.read, write=npz.write, sniff=npz.sniff,
                              binary=True, multiple=True, description="replaced by mk_hello"))
''')
    dist = tmp_path / "mk_hello-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mk-hello\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[motionkit]\nhello = mk_hello\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    assert "hello" in run_process("--help", env=env).stdout.decode()
    assert run_process("hello", env=env).stdout.decode().strip() == "hello from mk_hello"
    listed = {f["name"]: f for f in json.loads(run_process("formats", "--json", env=env).stdout)}
    assert listed["npz"]["description"] == "replaced by mk_hello" and listed["bvh"]["read"]
    plugins = {p["name"]: p for p in json.loads(run_process("plugins", env=env).stdout)}
    assert plugins["hello"]["distribution"] == "mk-hello"
    assert "hello" not in run_process("--help").stdout.decode()  # not installed: not there
