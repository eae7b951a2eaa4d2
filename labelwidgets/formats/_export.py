"""Export folders that never delete or write outside themselves (private).

Every exporter that writes a folder (:func:`~labelwidgets.formats.to_voc`,
:func:`~labelwidgets.formats.to_yolo`, :func:`~labelwidgets.formats.to_labelme`,
:func:`~labelwidgets.crops.export_crops`) writes through an :class:`ExportFolder`:

- the folder must be new, empty, or one this package exported into before (it holds the
  manifest :data:`MANIFEST`, the list of files the package wrote there);
- a file is written only at a path inside the folder whose every existing part is a real
  folder, never a symbolic link, and never over a file the manifest does not list;
- after writing, files listed by the previous manifest and not written again are removed; a
  removal never follows a link and removes only regular files.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from .._validate import InputError

MANIFEST = ".labelwidgets-export.json"


class ExportFolder:
    """A folder one exporter writes into.

    Parameters
    ----------
    out_dir : str or path-like
        The folder (created when missing). It may itself be a link the user made; nothing
        inside it is followed.
    kind : str
        What is exported (``"voc"``, ``"yolo"``, ...): a folder exported as one kind is not
        rewritten as another.
    """

    def __init__(self, out_dir, kind: str):
        given = Path(out_dir)
        if given.exists() and not given.is_dir():
            raise InputError(f"`out_dir` must be a folder. Got {str(given)!r}, which is a file.")
        self.root = given.resolve()
        self.kind = kind
        self._old: set[PurePosixPath] = set()
        self._new: dict[PurePosixPath, None] = {}
        self._made: set[Path] = set()  # folders known to exist
        self._folders: dict[tuple, bool] = {}  # folders checked: whether they exist
        if not self.root.is_dir():
            return
        manifest = self.root / MANIFEST
        if manifest.is_file() and not manifest.is_symlink():
            self._old = self._read_manifest(manifest)
            return
        entries = sorted(p.name for p in self.root.iterdir())
        if entries:
            raise InputError(
                f"`out_dir` must be a new or empty folder, or one labelwidgets exported into "
                f"(it holds {MANIFEST}). Got {str(self.root)!r}, which holds {len(entries)} "
                f"entries labelwidgets did not write (e.g. {entries[:3]}). Choose a new folder: "
                "exports replace and remove only the files they wrote."
            )

    def _read_manifest(self, manifest: Path) -> set[PurePosixPath]:
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            kind, files = data["kind"], data["files"]
            paths = {PurePosixPath(f) for f in files if isinstance(f, str)}
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{manifest}: the export manifest must be the JSON labelwidgets writes. It is "
                f"not ({exc}); choose a new folder."
            ) from exc
        if kind != self.kind:
            raise InputError(
                f"`out_dir` must not hold another kind of export. Got {str(self.root)!r}, a "
                f"{kind!r} export, for a {self.kind!r} export; choose a new folder."
            )
        return {p for p in paths if _inside(p)}

    # ------------------------------------------------------------------ planning
    def claim(self, rels: Iterable[str | PurePosixPath]) -> list[Path]:
        """Check that every relative path may be written, and return their absolute paths.

        Raises :class:`InputError` naming the path when a part of it is a link or not a
        folder, or when it names a file this package did not write. Nothing is written.
        """
        out = []
        for rel in rels:
            rel = PurePosixPath(rel)
            if not _inside(rel):
                raise InputError(
                    f"An export path must lie inside `out_dir`. Got {str(rel)!r} instead."
                )
            target, exists = self._checked(rel)
            if exists and rel not in self._old and rel not in self._new:
                raise InputError(
                    f"An export must not replace a file it did not write. Got {str(target)!r}, "
                    f"which is not listed in {MANIFEST}; move it away or choose a new folder."
                )
            self._new[rel] = None
            out.append(target)
        return out

    def _checked(self, rel: PurePosixPath) -> tuple[Path, bool]:
        """``(absolute path, whether a file is there)``; raises on a link or a non-folder."""
        parts = rel.parts
        folder = parts[:-1]
        if folder not in self._folders:  # each folder on the way is checked once
            current, there = self.root, True
            for part in folder:
                current = current / part
                try:
                    mode = os.lstat(current).st_mode
                except FileNotFoundError:
                    there = False
                    break
                if not stat.S_ISDIR(mode):
                    self._refuse(current, rel)
            self._folders[folder] = there
        target = self.root.joinpath(*parts)
        if not self._folders[folder]:
            return target, False
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            return target, False
        if not stat.S_ISREG(mode):
            self._refuse(target, rel)
        return target, True

    @staticmethod
    def _refuse(path: Path, rel: PurePosixPath):
        raise InputError(
            f"An export never writes through a link or over a non-file. Got {str(path)!r} on "
            f"the way to {str(rel)!r}; remove it or choose a new folder."
        )

    def write_all(self, planned: dict) -> None:
        """Claim, then write ``{relative path: text}`` and finish (all checked before any write)."""
        targets = self.claim(planned)
        self.begin()
        for target, text in zip(targets, planned.values(), strict=True):
            self.write_text(target, text)
        self.finish()

    # ------------------------------------------------------------------- writing
    def begin(self) -> None:
        """Record the old and the claimed files before writing (a crash leaves both listed)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_manifest(sorted(self._old | set(self._new), key=str))

    def write_text(self, target: Path, text: str) -> None:
        """Write a claimed file (UTF-8)."""
        parent = target.parent
        if parent not in self._made:
            parent.mkdir(parents=True, exist_ok=True)
            self._made.add(parent)
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)

    def finish(self, keep: set[str] = frozenset()) -> None:
        """Remove the stale files of the previous export and write the new manifest.

        Files whose real path is in ``keep`` (the sources of this export) stay, and stay
        listed.
        """
        kept = []
        for rel in self._old - set(self._new):
            if os.path.realpath(self.root.joinpath(*rel.parts)) in keep:
                kept.append(rel)
            else:
                self.remove(rel)
        self._write_manifest([*self._new, *kept])

    def remove(self, rel: PurePosixPath) -> bool:
        """Remove one regular file inside the folder, never following a link; True if removed."""
        path = self.root.joinpath(*rel.parts)
        current = self.root
        for part in rel.parts[:-1]:
            current = current / part
            try:
                if not stat.S_ISDIR(os.lstat(current).st_mode):
                    return False  # a link or a file where a folder was: leave it alone
            except FileNotFoundError:
                return False
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                return False
        except FileNotFoundError:
            return False
        path.unlink()
        parent = path.parent
        while parent != self.root and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
        return True

    def _write_manifest(self, files) -> None:
        text = json.dumps(
            {"kind": self.kind, "files": [p.as_posix() for p in files]}, ensure_ascii=False
        )
        write_atomic(self.root / MANIFEST, text)


def _inside(rel: PurePosixPath) -> bool:
    return bool(rel.parts) and not rel.is_absolute() and ".." not in rel.parts and "" not in rel.parts


def write_atomic(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` through a temporary file beside it (never a half file).

    Refuses a ``target`` that is a link or a folder.
    """
    target = Path(target)
    if target.is_symlink() or target.is_dir():
        raise InputError(
            f"`path` must name a regular file to write. Got {str(target)!r}, which is a "
            f"{'link' if target.is_symlink() else 'folder'}; exports never write through links."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
