"""The label store: one append-only log of annotations, with pandas DataFrame views.

``LabelStore("labels.db")`` is an SQLite file (WAL journal, one transaction per submit);
``LabelStore("postgresql://user@host/db")`` is the same store on PostgreSQL. Nothing is updated
in place or deleted: an edit is a new submission, an undo is a ``retract`` row that names the
submission it cancels. The current answer of a rater for an (item, task) is their latest
submission that is not retracted.

Two columns go beyond the design card: ``annotations.retracts`` (the submission a retraction
cancels, so that undo is exact and the current-answer view stays vectorised) and the small
``tasks`` table (each task's kind and options, so that ``table()`` knows which tasks hold lists
and voting knows which tasks are multi-label or boxes).

Views are incremental: a store object keeps each view's last result and reads only the rows
with a higher ``annotation_id`` (``_views``); reads go through the store's own driver
(``_read``).
"""

from ._schema import (
    ANNOTATION_COLUMNS,
    KINDS,
    LABEL_COLUMNS,
    ROLES,
    SOURCES,
    TASK_KINDS,
    annotations_table,
    assignments_table,
    items_table,
    tasks_table,
)
from ._store import LabelStore, default_rater
from ._views import current_rows

__all__ = ["LabelStore", "TASK_KINDS", "SOURCES", "KINDS", "current_rows", "default_rater"]

# the schema objects stay importable from here, as before the package split
_SCHEMA = (ANNOTATION_COLUMNS, LABEL_COLUMNS, ROLES, annotations_table, assignments_table,
           items_table, tasks_table)  # fmt: skip
