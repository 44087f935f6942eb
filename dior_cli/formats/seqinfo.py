"""MOTChallenge ``seqinfo.ini``: ``[Sequence]`` with name, imDir, frameRate, seqLength,
imWidth, imHeight, imExt."""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.formats.atomic import write_text_atomic


_KIND_NAMES = {int: "an integer", float: "a number", str: "text"}


@dataclass(frozen=True)
class SeqInfo:
    """The fields of a ``seqinfo.ini`` (``image_size`` is ``(height, width)``)."""

    name: str
    num_frames: int
    fps: float
    image_size: tuple[int, int]
    image_dir: str = "img1"
    image_ext: str = ".jpg"


def read_seqinfo(path: str | os.PathLike) -> SeqInfo:
    """Read and validate a ``seqinfo.ini``; errors name the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFound("seqinfo.ini does not exist", path=path)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_bytes().decode("utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise FormatError(f"is not a valid ini file ({type(exc).__name__})", path=path) from None
    if "Sequence" not in parser:
        raise FormatError("has no [Sequence] section", path=path)
    section = parser["Sequence"]

    def get(key: str, kind: type, default=None):
        if key not in section:
            if default is not None:
                return default
            raise FormatError(f"[Sequence] has no {key}", path=path)
        try:
            value = kind(section[key])
        except ValueError:
            raise FormatError(f"{key} is not {_KIND_NAMES[kind]}: {section[key]!r}", path=path) from None
        if kind in (int, float) and value <= 0 and key != "seqLength":
            raise FormatError(f"{key} must be positive, got {section[key]!r}", path=path)
        if kind is int and value < 0:
            raise FormatError(f"{key} must not be negative, got {section[key]!r}", path=path)
        return value

    return SeqInfo(
        name=get("name", str, path.parent.name),
        num_frames=get("seqLength", int),
        fps=get("frameRate", float),
        image_size=(get("imHeight", int), get("imWidth", int)),
        image_dir=get("imDir", str, "img1"),
        image_ext=get("imExt", str, ".jpg"),
    )


def write_seqinfo(path: str | os.PathLike, info: SeqInfo) -> None:
    """Write a ``seqinfo.ini`` atomically."""
    fps = int(info.fps) if float(info.fps).is_integer() else info.fps
    text = (
        "[Sequence]\n"
        f"name={info.name}\n"
        f"imDir={info.image_dir}\n"
        f"frameRate={fps}\n"
        f"seqLength={info.num_frames}\n"
        f"imWidth={info.image_size[1]}\n"
        f"imHeight={info.image_size[0]}\n"
        f"imExt={info.image_ext}\n"
    )
    write_text_atomic(path, text)
