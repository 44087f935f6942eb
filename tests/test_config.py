"""Stage configs: defaults from the papers, YAML files, --set overrides, refusals."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from dior_cli import config
from dior_cli.errors import ConfigError, InputNotFound

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "config.yaml"


def test_paper_defaults():
    track = config.load_config("track")
    assert (track.n1_seconds, track.stack_first, track.stack_recent) == (0.2, 5, 5)  # DIOR: N1 = 0.2 s, 5 + 5 stack
    reid = config.load_config("reid")
    assert (reid.n2_seconds, reid.theta_t_seconds, reid.sigma_k) == (1.0, 0.5, 3.0)  # N2 = 1 s; 15 frames at 30 fps; 3 sigma
    from dior_cli.model.config import ModelConfig

    assert ModelConfig().embedding_dim == 1024 and ModelConfig().backbone == "resnet50"  # DIOR sec. 4.1


def test_file_then_set_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("track:\n  n1_seconds: 0.4\n  stack_first: 3\nreid:\n  method: dior\n")
    track = config.load_config("track", path, ["stack_first=2", "track.stack_recent=7"])
    assert (track.n1_seconds, track.stack_first, track.stack_recent) == (0.4, 2, 7)
    assert config.load_config("reid", path).method == "dior"
    with pytest.raises(dataclasses.FrozenInstanceError):
        track.n1_seconds = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("track:\n  n1: 0.4\n", "unknown key track.n1; valid keys: n1_seconds, stack_first, stack_recent"),
        ("tracker:\n  n1_seconds: 0.4\n", "unknown section 'tracker'; valid sections: track, reid"),
        ("track:\n  n1_seconds: fast\n", "track.n1_seconds must be a number"),
        ("track:\n  stack_first: 2.5\n", "track.stack_first must be an integer"),
        ("reid:\n  method: magic\n", "reid.method must be one of remots, dior"),
        ("track:\n  n1_seconds: -1\n", "n1_seconds must be positive"),
        ("track: [1, 2]\n", "must be a mapping"),
        ("track:\n  n1_seconds: [\n", "not valid YAML"),
    ],
)
def test_bad_files_are_refused(tmp_path, text, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load_config("track", path)
    assert fragment in str(info.value) and str(path) in str(info.value)


def test_bad_overrides():
    with pytest.raises(ConfigError, match="unknown key track.speed"):
        config.load_config("track", None, ["speed=3"])
    with pytest.raises(ConfigError, match="expected key=value"):
        config.load_config("track", None, ["n1_seconds"])
    with pytest.raises(ConfigError, match="configures 'track', not 'reid'"):
        config.load_config("track", None, ["reid.n2_seconds=2"])


def test_missing_file(tmp_path):
    with pytest.raises(InputNotFound):
        config.load_config("track", tmp_path / "none.yaml")


def test_example_config_lists_every_key_with_a_comment():
    text = EXAMPLE.read_text()
    doc = yaml.safe_load(text)
    assert set(doc) == set(config.STAGES)
    lines = text.splitlines()
    for stage, cls in config.STAGES.items():
        fields = dataclasses.fields(cls)
        assert set(doc[stage]) == {f.name for f in fields}
        for f in fields:
            default = list(f.default) if isinstance(f.default, tuple) else f.default  # YAML has lists, not tuples
            assert doc[stage][f.name] == default  # the example shows the defaults
            index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{f.name}:"))
            assert lines[index - 1].strip().startswith("#"), f"{stage}.{f.name} has no comment"
    for stage in config.STAGES:
        config.load_config(stage, EXAMPLE)  # and it loads
