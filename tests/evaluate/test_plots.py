"""``dior evaluate --plot DIR``: the plots are written, and a missing matplotlib is a clear error."""

from __future__ import annotations

import sys
import cv2
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.errors import DiorError
from dior_cli.evaluate import plots

from tests.conftest import DATA as SHARED, require

DATA = SHARED / "kitti_mots" / "instances_txt"


def test_evaluate_plot_writes_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    require(DATA)
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    for name in ("0012", "0017"):  # ground truth scored against itself
        (tmp_path / "gt" / f"{name}.txt").write_bytes((DATA / f"{name}.txt").read_bytes())
        (tmp_path / "pred" / f"{name}.txt").write_bytes((DATA / f"{name}.txt").read_bytes())
    result = CliRunner().invoke(app, ["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"),
                                      "--workers", "1", "--plot", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    for name in ("hota_curves.png", "per_sequence.png"):
        image = cv2.imread(str(tmp_path / "plots" / name))
        assert image is not None and image.shape[0] > 100 and image.shape[1] > 100


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(DiorError, match=r"pip install 'dior-cli\[plot\]'"):
        plots.require_matplotlib()
    result = CliRunner().invoke(app, ["evaluate", "--gt", str(tmp_path), "--pred", str(tmp_path), "--plot", str(tmp_path / "p")])
    assert result.exit_code == 1
    assert "--plot needs matplotlib" in result.output
