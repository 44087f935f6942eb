"""Writes are atomic: an interrupted write leaves no partial file under the final name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dior_cli.formats import mots_txt
from dior_cli.formats.atomic import atomic_write
from dior_cli.formats.mots_txt import write_mots_txt
from dior_cli.masks import encode
from dior_cli.records import MotsRows


def _rows(n):
    rle = encode(np.eye(5, dtype=bool))
    return MotsRows(frame=np.arange(n), obj_id=np.full(n, 2001), class_id=np.full(n, 2), rles=[rle] * n)


def test_exception_during_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out" / "seq.txt"

    def explode(frames, obj_ids, class_ids, rles, frame_base):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C while the text was produced

    monkeypatch.setattr(mots_txt, "format_mots_columns", explode)
    with pytest.raises(KeyboardInterrupt):
        write_mots_txt(target, _rows(3), 0)
    assert list((tmp_path / "out").iterdir()) == []


def test_failed_rewrite_keeps_the_old_file(tmp_path):
    target = tmp_path / "seq.txt"
    write_mots_txt(target, _rows(2), 0)
    before = target.read_text()
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write("partial line without end")
            raise RuntimeError("disk full")
    assert target.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seq.txt"]


def test_killed_process_leaves_no_partial_file(tmp_path):
    target = tmp_path / "seq.txt"
    script = textwrap.dedent(
        f"""
        import sys, time
        from dior_cli.formats.atomic import atomic_write
        with atomic_write({str(target)!r}) as handle:
            for i in range(100000):
                handle.write(f"{{i}} 2001 2 5 5 0\\n")
                if i == 1000:
                    handle.flush()
                    print("writing", flush=True)
                    time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        temporaries = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert temporaries and temporaries[0].stat().st_size > 0  # the data went somewhere else
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert not target.exists(), "a killed write left a partial file under the final name"


def test_written_files_get_the_usual_mode_not_owner_only(tmp_path):
    import os

    from dior_cli.formats.atomic import write_text_atomic

    previous = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "out.txt", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o644  # 0o666 without the umask's 0o022


def test_writing_never_touches_the_process_umask(tmp_path, monkeypatch):
    """The umask is process-wide: reading it by setting it would race with other threads' file creation."""
    import os

    from dior_cli.formats.atomic import write_bytes_atomic, write_text_atomic

    def forbidden(_mask):
        raise AssertionError("os.umask called during an atomic write")

    previous = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", forbidden)
        write_text_atomic(tmp_path / "a.txt", "x")
        write_bytes_atomic(tmp_path / "b.bin", b"y")
    finally:
        monkeypatch.undo()
        os.umask(previous)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640  # 0o666 without the umask's 0o027
    assert (tmp_path / "b.bin").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]  # no temporary left behind
