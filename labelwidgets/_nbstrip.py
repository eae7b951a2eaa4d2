"""Strip widget state (image bytes) from notebooks before committing: ``python -m labelwidgets._nbstrip NB...``.

Also drops widget views (progress bars, widgets) from the outputs of cells that nbval ignores
(``# NBVAL_IGNORE_OUTPUT``): without their stripped state they show only a stale fallback such
as a progress bar at 0 %.
"""

from __future__ import annotations

import sys

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def ignored(source: str) -> bool:
    """Whether nbval ignores the cell's output: a comment line that is exactly the marker
    (nbval's own rule: ``# NBVAL_IGNORE_OUTPUT (why)`` is not a marker)."""
    return any(line.strip().startswith("#") and line.strip().lstrip("#").strip() == "NBVAL_IGNORE_OUTPUT"
               for line in source.splitlines())


def strip(path: str) -> bool:
    """Remove ``metadata.widgets`` and ignored cells' widget views; return whether anything changed."""
    nb = nbformat.read(path, as_version=4)
    changed = nb.metadata.pop("widgets", None) is not None
    for cell in nb.cells:
        if cell.cell_type != "code" or not ignored(cell.source):
            continue
        kept = [o for o in cell.outputs if WIDGET_VIEW not in o.get("data", {})]
        if len(kept) != len(cell.outputs):
            cell.outputs, changed = kept, True
    if changed:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    for path in argv if argv is not None else sys.argv[1:]:
        print(f"{path}: {'stripped' if strip(path) else 'clean'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
