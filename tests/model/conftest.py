"""Fixtures shared by the model tests."""

from __future__ import annotations

import urllib.error

import pytest
import torch


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty torch cache and no internet: every download raises URLError."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    if not torch.hub.get_dir().startswith(str(tmp_path)):
        pytest.skip("torch.hub.set_dir() was called elsewhere in this process")

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no internet in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path
