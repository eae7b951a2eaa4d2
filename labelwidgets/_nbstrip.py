"""Strip widget state (image bytes) from notebooks before committing: ``python -m labelwidgets._nbstrip NB...``."""

from __future__ import annotations

import sys

import nbformat


def strip(path: str) -> bool:
    """Remove ``metadata.widgets`` (saved widget state); return whether anything changed."""
    nb = nbformat.read(path, as_version=4)
    changed = nb.metadata.pop("widgets", None) is not None
    if changed:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    for path in argv if argv is not None else sys.argv[1:]:
        print(f"{path}: {'stripped' if strip(path) else 'clean'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
