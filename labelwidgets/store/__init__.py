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

# the schema objects and column lists stay importable from here, as before the package split
from ._schema import ANNOTATION_COLUMNS as ANNOTATION_COLUMNS
from ._schema import KINDS, SOURCES, TASK_KINDS
from ._schema import LABEL_COLUMNS as LABEL_COLUMNS
from ._schema import ROLES as ROLES
from ._schema import annotations_table as annotations_table
from ._schema import assignments_table as assignments_table
from ._schema import items_table as items_table
from ._schema import tasks_table as tasks_table
from ._store import LabelStore, default_rater
from ._views import current_rows

__all__ = ["LabelStore", "TASK_KINDS", "SOURCES", "KINDS", "current_rows", "default_rater"]
