"""A re-run that skips finished sequences says when their outputs were made with other settings (track, reid)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.config import ReidConfig
from dior_cli.rerun import settings_changes
from tests.track.test_scenarios import box, write_sequence

runner = CliRunner()


@pytest.fixture
def dets(tmp_path):
    """Two cars with their own embeddings, 6 frames at 10 fps."""
    folder = tmp_path / "dets"
    folder.mkdir()
    write_sequence(folder, "s", [(t, 1, 1, box(10)) for t in range(6)] + [(t, 2, 1, box(40)) for t in range(6)], 6)
    return folder


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def summary(*args: str) -> dict:
    return json.loads(invoke(*args, "--json").stdout)


def test_same_settings_skip_quietly(dets):
    invoke("track", str(dets))
    entry = summary("track", str(dets))["sequences"]["s"]
    assert entry == {"skipped": "outputs exist (use --overwrite)"}


def test_other_settings_are_named_with_the_way_to_redo(dets):
    invoke("track", str(dets))
    result = invoke("track", str(dets), "--offline-reid", "--set", "n1_seconds=0.5")
    text = " ".join(result.output.split())
    assert "s: skipped, but its outputs were made differently from what this run asks" in text
    assert "offline_reid: false -> true" in text and "track.n1_seconds: 0.2 -> 0.5" in text and "--overwrite" in text
    entry = summary("track", str(dets), "--offline-reid")["sequences"]["s"]
    reid = ReidConfig()  # theta_1 itself is unset (read from the data) both times: only its rule's settings appear
    assert entry["changed"] == ["offline_reid: false -> true", "reid.n2_seconds: null -> 1.0", f'reid.theta_1_gate: null -> "{reid.theta_1_gate}"',
                                f"reid.theta_1_sigma: null -> {reid.theta_1_sigma}"]
    redone = summary("track", str(dets), "--offline-reid", "--overwrite")["sequences"]["s"]
    assert "skipped" not in redone and summary("track", str(dets), "--offline-reid")["sequences"]["s"] == {"skipped": "outputs exist (use --overwrite)"}


def test_changed_input_is_named(dets):
    invoke("track", str(dets))
    write_sequence(dets, "s", [(t, 1, 1, box(12)) for t in range(6)], 6)  # another version of s.json
    entry = summary("track", str(dets))["sequences"]["s"]
    assert entry["changed"] == ["input: s.json changed since"]


def test_reid_names_other_settings_and_counts_skips(dets, tmp_path):
    invoke("track", str(dets))
    tracks = tmp_path / "tracks"
    invoke("reid", str(tracks), "--dets", str(dets))
    result = invoke("reid", str(tracks), "--dets", str(dets), "--method", "dior")
    text = " ".join(result.output.split())
    assert 'reid.method: "remots" -> "dior"' in text and "redo it with" in text
    assert "refined 0 sequence(s), skipped 1" in text
    result = invoke("reid", str(tracks), "--dets", str(dets), "--method", "dior", "--overwrite")
    assert "refined 1 sequence(s) in" in " ".join(result.output.split())


def test_settings_changes_by_hand():
    assert settings_changes({"a": 1, "b": [1, 2]}, {"a": 1, "b": (1, 2)}) == []  # tuples compare as their JSON lists
    assert settings_changes({"a": 1}, {"a": 2, "c": None}) == ["a: 1 -> 2"]  # c: absent and null alike
    assert settings_changes({"a": 1}, {"c": True}) == ["a: 1 -> null", "c: null -> true"]
    assert settings_changes(None, {"a": 1}) == []  # outputs of a dior that recorded nothing: nothing known to differ
