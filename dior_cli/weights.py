"""The registry of third-party networks dior runs, and where to find each one's file.

dior holds the architectures in its own code (``dior_cli/model/``) and reads the upstream
files at load time; no weights file, and no file converted from one, is part of the package.
Each network here has one entry: its file name, sha256, size, licence and source, and a
download URL where a stable one is known.

A file is looked for, in order (``search_places``):

1. an explicit path (``--weights PATH``), used as it is;
2. ``$DIOR_WEIGHTS``: a folder holding the upstream file names;
3. the user cache: ``$DIOR_CACHE`` if set, else ``$XDG_CACHE_HOME/dior/weights``, else
   ``~/.cache/dior/weights``;
4. ``shared/weights`` beside the checkout dior runs from (``../shared/weights`` of the
   repository root), or beside or above the working directory.

A file found by name in a folder must have the registry's sha256 (a different file under the
right name is refused, naming both digests). Where no place has it and a URL is known, the file
is downloaded into the cache with a progress bar and checked before it is renamed into place;
offline (or with ``allow_download=False``) the error names the file, every place searched and
the URL. Tests never download.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dior_cli.errors import FormatError, InputNotFound


@dataclass(frozen=True)
class NetworkFile:
    """One upstream weights file dior can load (``name`` is the registry key)."""

    name: str
    file_name: str
    sha256: str
    size: int  # bytes
    licence: str
    source: str
    purpose: str
    url: str | None = None  # a stable download URL, when one is known for exactly these bytes


REGISTRY: dict[str, NetworkFile] = {
    net.name: net
    for net in (
        NetworkFile(
            name="yolox_nano", file_name="yolox_nano.onnx",
            sha256="695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14", size=3_660_092,
            licence="Apache-2.0",
            source="Megvii-BaseDetection/YOLOX yolox_nano.pth (YOLOX 0.1.1rc0), ONNX export of Kazuhito00/YOLOX-ONNX-TFLite-Sample",
            purpose="COCO detector: the boxes of `dior infer` without --weights",
        ),
        NetworkFile(
            name="osnet_x0_25", file_name="osnet_x0_25_msmt17.onnx",
            sha256="61b2604171ef9d58d21758626f83b35a253c3d7123976523a6e03068c3c95d7b", size=921_616,
            licence="MIT (weights; MSMT17 is for research use)",
            source="KaiyangZhou/deep-person-reid model zoo osnet_x0_25_msmt17, ONNX export",
            purpose="person re-ID appearance: 512-d embeddings of every detection",
        ),
        NetworkFile(
            name="selfie_segmentation", file_name="selfie_segmentation.tflite",
            sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c", size=249_505,
            licence="Apache-2.0",
            source="google-ai-edge/mediapipe selfie segmentation (PyPI mediapipe==0.10.14, modules/selfie_segmentation/)",
            purpose="person masks from person boxes (box -> mask)",
        ),
    )
}


@dataclass(frozen=True)
class Place:
    """A folder searched for weights files, and why it is searched."""

    label: str
    folder: Path


def cache_dir() -> Path:
    """The user cache for downloaded weights (``$DIOR_CACHE``, ``$XDG_CACHE_HOME/dior/weights``, ``~/.cache/dior/weights``)."""
    if os.environ.get("DIOR_CACHE"):
        return Path(os.environ["DIOR_CACHE"]).expanduser()
    base = Path(os.environ["XDG_CACHE_HOME"]).expanduser() if os.environ.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "dior" / "weights"


def search_places() -> list[Place]:
    """Every folder searched for a network's file, in order (duplicates removed)."""
    places: list[Place] = []
    if os.environ.get("DIOR_WEIGHTS"):
        places.append(Place("$DIOR_WEIGHTS", Path(os.environ["DIOR_WEIGHTS"]).expanduser()))
    places.append(Place("user cache", cache_dir()))
    checkout = Path(__file__).resolve().parents[1]
    places.append(Place("beside the checkout", checkout.parent / "shared" / "weights"))
    cwd = Path.cwd()
    for folder in (cwd, *list(cwd.parents)[:3]):
        places.append(Place("beside the working directory", folder / "shared" / "weights"))
    seen: set[Path] = set()
    unique = []
    for place in places:
        key = place.folder.resolve() if place.folder.exists() else place.folder
        if key not in seen:
            seen.add(key)
            unique.append(place)
    return unique


@dataclass(frozen=True)
class Located:
    """Where a network's file was found (``place`` is a ``Place.label`` or ``"--weights"``)."""

    network: NetworkFile
    path: Path
    place: str
    verified: bool  # the sha256 equals the registry's


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def network(name: str) -> NetworkFile:
    """The registry entry ``name``; unknown names are refused with the list of known ones."""
    if name not in REGISTRY:
        raise InputNotFound(f"no network named {name!r}; dior knows {', '.join(REGISTRY)}")
    return REGISTRY[name]


def find(name: str, explicit: str | os.PathLike | None = None) -> Located | None:
    """Look for ``name``'s file without downloading; ``None`` when no place has it.

    An explicit path is taken as given (its digest is recorded, not required: it may be a
    re-export). A file found by name in a search folder must match the registry's sha256.
    """
    net = network(name)
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise InputNotFound(f"{net.name} weights file does not exist", path=path)
        return Located(net, path, "--weights", sha256_file(path) == net.sha256)
    for place in search_places():
        path = place.folder / net.file_name
        if path.is_file():
            digest = sha256_file(path)
            if digest != net.sha256:
                raise FormatError(f"has sha256 {digest}, but {net.file_name} ({net.source}) has {net.sha256}: "
                                  f"replace it with the upstream file, or pass another file with --weights", path=path)
            return Located(net, path, place.label, True)
    return None


def resolve(name: str, explicit: str | os.PathLike | None = None, *, allow_download: bool = True) -> Located:
    """``find`` the file, else download it to the cache where a URL is known, else raise naming every place searched."""
    located = find(name, explicit)
    if located is not None:
        return located
    net = REGISTRY[name]
    if net.url is not None and allow_download and not os.environ.get("DIOR_OFFLINE"):
        try:
            return Located(net, download(net), "downloaded", True)
        except OSError as exc:
            failure = f"; downloading {net.url} failed ({type(exc).__name__}: {exc})"
    else:
        failure = f"; no download was tried ({net.url or 'no stable download URL is known'})"
    searched = "; ".join(f"{p.label}: {p.folder / net.file_name}" for p in search_places())
    raise InputNotFound(
        f"cannot find {net.file_name} ({net.purpose}; {net.licence}; from {net.source}). Looked in {searched}{failure}. "
        f"Put the file in one of these folders, point DIOR_WEIGHTS at the folder holding it, or pass --weights PATH "
        f"(`dior weights` lists every network and where it was found)"
    )


def download(net: NetworkFile) -> Path:
    """Fetch ``net.url`` into the cache with a progress bar, check its sha256, then rename it into place."""
    from dior_cli.console import download_progress

    target = cache_dir() / net.file_name
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + f".part{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(net.url, timeout=60) as response, open(partial, "wb") as handle:
            total = int(response.headers.get("Content-Length") or net.size)
            with download_progress(net.file_name, total) as advance:
                while block := response.read(1 << 16):
                    handle.write(block)
                    digest.update(block)
                    advance(len(block))
        if digest.hexdigest() != net.sha256:
            raise FormatError(f"downloaded file has sha256 {digest.hexdigest()}, expected {net.sha256}; it was not kept", path=net.url)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def status() -> list[dict]:
    """One row per network for ``dior weights``: where its file was found (or not), the check, the licence."""
    rows = []
    for net in REGISTRY.values():
        row = {"name": net.name, "file": net.file_name, "licence": net.licence, "source": net.source,
               "purpose": net.purpose, "sha256": net.sha256, "url": net.url, "path": None, "place": None, "sha256_ok": None,
               "error": None}
        try:
            located = find(net.name)
        except FormatError as exc:
            row["error"] = str(exc)
            row["sha256_ok"] = False
        else:
            if located is not None:
                row.update(path=str(located.path), place=located.place, sha256_ok=located.verified)
        rows.append(row)
    return rows
