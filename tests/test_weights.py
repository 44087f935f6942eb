"""The weights registry: where each network's file is found, the sha256 check, the offline message, the download."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dior_cli import weights
from dior_cli.errors import FormatError, InputNotFound
from tests.conftest import REPO

SHARED_WEIGHTS = REPO.parent / "shared" / "weights"


def fake_network(tmp_path: Path, payload: bytes, url: str | None = None) -> weights.NetworkFile:
    return weights.NetworkFile(name="tiny", file_name="tiny.onnx", sha256=hashlib.sha256(payload).hexdigest(), size=len(payload),
                               licence="MIT", source="a test", purpose="testing", url=url)


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A registry of one made-up network, searched only in folders under tmp_path."""
    payload = b"weights of a tiny network\n"
    net = fake_network(tmp_path, payload)
    monkeypatch.setitem(weights.REGISTRY, "tiny", net)
    monkeypatch.delenv("DIOR_WEIGHTS", raising=False)
    monkeypatch.setenv("DIOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return net, payload


def test_every_registered_file_matches_its_shared_copy():
    """Digests and sizes in the registry are those of the upstream files (checked independently with hashlib)."""
    if not SHARED_WEIGHTS.is_dir():
        pytest.skip(f"upstream weights not found at {SHARED_WEIGHTS}")
    for net in weights.REGISTRY.values():
        path = SHARED_WEIGHTS / net.file_name
        assert path.stat().st_size == net.size, net.name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == net.sha256, net.name


def test_dior_weights_comes_before_the_cache(tiny, tmp_path, monkeypatch):
    net, payload = tiny
    for folder in ("mine", "cache"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / net.file_name).write_bytes(payload)
    monkeypatch.setenv("DIOR_WEIGHTS", str(tmp_path / "mine"))
    located = weights.resolve("tiny")
    assert located.path == tmp_path / "mine" / net.file_name and located.place == "$DIOR_WEIGHTS" and located.verified
    monkeypatch.delenv("DIOR_WEIGHTS")
    assert weights.resolve("tiny").place == "user cache"


def test_a_shared_weights_folder_above_the_working_directory_is_found(tiny, tmp_path, monkeypatch):
    net, payload = tiny
    (tmp_path / "shared" / "weights").mkdir(parents=True)
    (tmp_path / "shared" / "weights" / net.file_name).write_bytes(payload)
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    located = weights.resolve("tiny")
    assert located.path.resolve() == (tmp_path / "shared" / "weights" / net.file_name).resolve()


def test_a_file_with_the_right_name_and_other_bytes_is_refused(tiny, tmp_path, monkeypatch):
    net, _ = tiny
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / net.file_name).write_bytes(b"something else")
    monkeypatch.setenv("DIOR_WEIGHTS", str(tmp_path / "mine"))
    with pytest.raises(FormatError, match=f"tiny.onnx: has sha256 {hashlib.sha256(b'something else').hexdigest()}, but"):
        weights.resolve("tiny")


def test_an_explicit_path_is_used_as_given_and_its_check_recorded(tiny, tmp_path):
    other = tmp_path / "re-export.onnx"
    other.write_bytes(b"a re-export")
    located = weights.resolve("tiny", other)
    assert located.path == other and located.place == "--weights" and not located.verified
    with pytest.raises(InputNotFound, match="nope.onnx"):
        weights.resolve("tiny", tmp_path / "nope.onnx")


def test_offline_the_error_names_the_file_every_place_and_the_url(tiny, tmp_path, monkeypatch):
    net, _ = tiny
    monkeypatch.setenv("DIOR_WEIGHTS", str(tmp_path / "mine"))
    with pytest.raises(InputNotFound) as error:
        weights.resolve("tiny")
    message = str(error.value)
    assert "tiny.onnx" in message and "MIT" in message
    for place in weights.search_places():
        assert str(place.folder / net.file_name) in message
    assert "no stable download URL is known" in message


def test_a_download_is_checked_then_renamed_into_the_cache(tmp_path, monkeypatch):
    """A file:// URL stands in for the network (tests never download): the bytes land in the cache once their sha256 matches."""
    payload = b"downloaded weights\n"
    source = tmp_path / "server" / "tiny.onnx"
    source.parent.mkdir()
    source.write_bytes(payload)
    monkeypatch.setitem(weights.REGISTRY, "tiny", fake_network(tmp_path, payload, url=source.as_uri()))
    monkeypatch.delenv("DIOR_WEIGHTS", raising=False)
    monkeypatch.delenv("DIOR_OFFLINE", raising=False)
    monkeypatch.setenv("DIOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    located = weights.resolve("tiny")
    assert located.place == "downloaded" and located.path == tmp_path / "cache" / "tiny.onnx"
    assert located.path.read_bytes() == payload
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["tiny.onnx"]  # no partial file left
    assert weights.resolve("tiny").place == "user cache"  # the second call finds it


def test_a_download_with_other_bytes_is_not_kept(tmp_path, monkeypatch):
    source = tmp_path / "tampered.onnx"
    source.write_bytes(b"tampered")
    monkeypatch.setitem(weights.REGISTRY, "tiny", fake_network(tmp_path, b"the real bytes", url=source.as_uri()))
    monkeypatch.delenv("DIOR_WEIGHTS", raising=False)
    monkeypatch.delenv("DIOR_OFFLINE", raising=False)
    monkeypatch.setenv("DIOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FormatError, match="downloaded file has sha256 .* it was not kept"):
        weights.resolve("tiny")
    assert not any((tmp_path / "cache").iterdir())


def test_dior_weights_cli_lists_each_network_and_where_it_was_found(tiny, tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from dior_cli.cli import app

    net, payload = tiny
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / net.file_name).write_bytes(payload)
    monkeypatch.setenv("DIOR_WEIGHTS", str(tmp_path / "mine"))
    result = CliRunner().invoke(app, ["weights", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    rows = {row["name"]: row for row in doc["networks"]}
    assert rows["tiny"]["path"] == str(tmp_path / "mine" / net.file_name) and rows["tiny"]["sha256_ok"] is True
    assert set(weights.REGISTRY) == set(rows)
    assert doc["searched"][0] == {"place": "$DIOR_WEIGHTS", "folder": str(tmp_path / "mine")}
