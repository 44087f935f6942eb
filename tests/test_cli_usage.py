"""The command line's edges: usage mistakes exit 1 with one line naming the option, Ctrl-C exits
130 with a note, help texts print as written, and --set means the same in every command."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from dior_cli import config
from dior_cli.cli import app
from dior_cli.errors import ConfigError

runner = CliRunner()


@pytest.mark.parametrize(("args", "message"), [
    (["track", "dets", "--nope"], "error: No such option: --nope (see 'dior track -h')"),
    (["evaluate", "--pred", "p"], "error: Missing option '--gt'. (see 'dior evaluate -h')"),
    (["track"], "error: Missing argument 'dets'. (see 'dior track -h')"),
    (["render", "t", "--frames", "f", "--trail", "many"], "error: Invalid value for '--trail'"),
    (["nonsense"], "error: No such command 'nonsense'."),
])
def test_usage_mistakes_exit_1_with_one_line(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), result.output


def test_usage_mistake_from_the_console_script():
    result = subprocess.run([sys.executable, "-m", "dior_cli", "inspect"], capture_output=True, text=True)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == "error: Missing argument 'path'. (see 'python -m dior_cli inspect -h')"  # the program as started


def test_no_command_prints_the_overview():
    result = runner.invoke(app, [])
    assert result.exit_code == 0 and "Commands:" in result.output and "track" in result.output


def test_ctrl_c_exits_130_with_a_note(monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("dior_cli.inspection.inspect_path", interrupted)
    result = runner.invoke(app, ["inspect", str(tmp_path)])
    assert result.exit_code == 130
    assert result.output.strip().startswith("interrupted") and len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_help_prints_brackets_as_written():
    result = runner.invoke(app, ["evaluate", "-h"], env={"COLUMNS": "400"})
    assert result.exit_code == 0 and "pip install 'dior-cli[plot]'" in result.output


def test_config_and_track_take_the_same_bare_keys():
    bare = runner.invoke(app, ["config", "--set", "n1_seconds=0.3", "--set", "theta_1=0.8"])
    named = runner.invoke(app, ["config", "--set", "track.n1_seconds=0.3", "--set", "reid.theta_1=0.8"])
    assert bare.exit_code == named.exit_code == 0, bare.output
    assert bare.stdout == named.stdout
    doc = yaml.safe_load(bare.stdout)
    assert doc["track"]["n1_seconds"] == 0.3 and doc["reid"]["theta_1"] == 0.8


def test_split_overrides_routes_by_key():
    groups = config.split_overrides(["n1_seconds=0.3", "reid.theta_1=0.8", "theta_t_seconds=1"], ("track", "reid"))
    assert groups == {"track": ["n1_seconds=0.3"], "reid": ["reid.theta_1=0.8", "theta_t_seconds=1"]}
    with pytest.raises(ConfigError, match="unknown key track.nope or reid.nope; valid keys: track.n1_seconds"):
        config.split_overrides(["nope=1"], ("track", "reid"))
    with pytest.raises(ConfigError, match="configures track, reid, not 'train'"):
        config.split_overrides(["train.lr=0.1"], ("track", "reid"))
    with pytest.raises(ConfigError, match="expected key=value"):
        config.split_overrides(["n1_seconds"], ("track",))


def test_unknown_bare_key_exits_1_naming_it():
    result = runner.invoke(app, ["config", "--set", "nope=1"])
    assert result.exit_code == 1 and "unknown key track.nope or reid.nope or adapt.nope or train.nope" in result.output
