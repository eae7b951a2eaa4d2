"""Current answers from the append-only log, computed once and then kept up to date.

:func:`current_rows` is the rule (a pure function of a log). :class:`CurrentView` applies it to
one view of a store (all rows, or one task, rater or set of sources) and, since the log only ever
grows, later refreshes read only the rows with a higher ``annotation_id`` and fold them in:

- a new submission for an (item, task, rater) replaces that key's current rows;
- rows that extend the current submission are added to it;
- a retraction of a current submission, a submission id seen before, or (PostgreSQL) a row that
  committed after rows with higher ids, reloads only the keys it touches from the database.

The result equals :func:`current_rows` of a full read after every refresh (a property test checks
this after random writes, undos and writes from other processes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from ._read import read_annotations
from ._schema import LABEL_COLUMNS, _outward, _typed

_SHAPES = ("label", "box", "polygon", "point")
_JOURNAL = 64  # refreshes a table can lag behind and still update only the items that changed


def _arrow(series: pd.Series) -> pa.ChunkedArray | pa.Array:
    return pa.array(series.array) if isinstance(series.array, pd.arrays.ArrowStringArray) else pa.array(series)


def isin(series: pd.Series, values) -> np.ndarray:
    """``series.isin(values)`` for text columns, through Arrow (fast on Arrow strings)."""
    values = list(values)
    if not values or series.empty:
        return np.zeros(len(series), dtype=bool)
    hit = pc.is_in(_arrow(series), value_set=pa.array(values, pa.large_string()))
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def current_rows(log: pd.DataFrame) -> pd.DataFrame:
    """The current submission's rows per (item, task, rater) of an annotation log.

    Pure function behind :meth:`LabelStore.current`: drops retracted submissions and retract
    rows, then keeps, per (item, task, rater), the rows of the submission with the highest
    ``annotation_id``.
    """
    if log.empty:
        return _outward(_typed(log).reset_index(drop=True))
    log = _typed(log)
    retracted = log.loc[log["kind"] == "retract", "retracts"].dropna().unique()
    return _outward(_current(log, set(retracted))[0])


def _current(log: pd.DataFrame, dead: set[str], keys: np.ndarray | None = None):
    """``current_rows`` with the retracted submission ids given (and the keys, if known)."""
    if not log["annotation_id"].is_monotonic_increasing:
        order = np.argsort(log["annotation_id"].to_numpy(), kind="stable")
        log = log.take(order)
        keys = None if keys is None else keys[order]
    live = np.flatnonzero((log["kind"] != "retract").to_numpy() & ~isin(log["submission_id"], dead))
    if keys is None:
        keys = Codes().keys(log)
    keep = np.zeros(len(log), dtype=bool)
    if len(live):
        keep[live[_winners(keys[live], pc.take(_arrow(log["submission_id"]), pa.array(live)))]] = True
    return log[keep].reset_index(drop=True), keys[keep]


def _winners(key: np.ndarray, sids) -> np.ndarray:
    """Rows (in write order) that belong to the last submission of their key."""
    kc, uniques = pd.factorize(key)
    last = ~pd.Series(kc).duplicated(keep="last").to_numpy()
    winner = np.empty(len(uniques), dtype=np.int64)
    winner[kc[last]] = np.flatnonzero(last)
    sid = sids if isinstance(sids, pa.Array | pa.ChunkedArray) else _arrow(sids)
    same = pc.equal(sid, pc.take(sid, pa.array(winner[kc])))
    return np.asarray(same.to_numpy(zero_copy_only=False), dtype=bool)


class Codes:
    """Stable integer codes for item ids, tasks and raters (shared by a store's views)."""

    def __init__(self):
        self._values = {c: pa.array([], pa.large_string()) for c in ("item_id", "task", "rater")}

    def encode(self, col: str, values: pd.Series) -> np.ndarray:
        arr = _arrow(values)
        codes = pc.index_in(arr, value_set=self._values[col])
        if codes.null_count:
            new = pc.unique(pc.filter(arr, pc.is_null(codes)))
            self._values[col] = pa.concat_arrays([self._values[col], new.cast(pa.large_string())])
            codes = pc.index_in(arr, value_set=self._values[col])
        return np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64)

    def keys(self, frame: pd.DataFrame) -> np.ndarray:
        """One int64 per (item, task, rater): item << 32 | task << 16 | rater."""
        item, task, rater = (self.encode(c, frame[c]) for c in ("item_id", "task", "rater"))
        if len(self._values["task"]) >= 1 << 16 or len(self._values["rater"]) >= 1 << 16:
            raise OverflowError("more than 65,535 tasks or raters: views are read in full")
        return (item << 32) | (task << 16) | rater

    def items(self, keys: np.ndarray) -> pd.Index:
        codes = np.unique(keys >> 32)
        return pd.Index(self._values["item_id"].take(pa.array(codes)).to_pylist(), dtype="str")

    def item_codes(self, item_ids: pd.Index) -> np.ndarray:
        codes = pc.index_in(pa.array(list(item_ids), pa.large_string()), value_set=self._values["item_id"])
        return np.asarray(codes.drop_null().to_numpy(zero_copy_only=False), dtype=np.int64)


class Rows:
    """Current rows and their keys, changed by deltas without copying the frame each time.

    Rows are kept in parts (the first read, then each refresh's new rows) with an ``alive``
    mask: a delta only appends a part and clears mask bits. A frame is built (one pass) only
    when a view is asked for, and the parts are then compacted into it.
    """

    def __init__(self, frame: pd.DataFrame, keys: np.ndarray):
        self._reset(frame.reset_index(drop=True), keys)

    def _reset(self, frame: pd.DataFrame, keys: np.ndarray) -> None:
        self.parts = [frame]
        self.all_keys = np.asarray(keys, dtype=np.int64)
        self.ids = frame["annotation_id"].to_numpy()
        self.alive = np.ones(len(frame), dtype=bool)
        self.labels = _is_label(frame)
        self.in_order = True  # alive rows are stored in annotation_id order
        self._frame: pd.DataFrame | None = frame

    def apply(self, remove: np.ndarray, add: pd.DataFrame, add_keys: np.ndarray) -> None:
        """Drop the rows of the ``remove`` keys and add ``add`` (sorted by annotation_id)."""
        if len(remove):
            gone = pd.Series(self.all_keys).isin(remove).to_numpy()
            self.alive &= ~gone
        if len(add):
            add = add.reset_index(drop=True)
            new_ids = add["annotation_id"].to_numpy()
            live_ids = self.ids[self.alive]
            if len(live_ids) and new_ids[0] < live_ids.max():
                self.in_order = False
            self.parts.append(add)
            self.all_keys = np.concatenate([self.all_keys, add_keys])
            self.ids = np.concatenate([self.ids, new_ids])
            self.alive = np.concatenate([self.alive, np.ones(len(add), dtype=bool)])
            self.labels = np.concatenate([self.labels, _is_label(add)])
        self._frame = None
        if len(self.parts) > 32 or self.alive.sum() < 0.75 * len(self.alive):
            self.frame  # noqa: B018  (compacts)

    def _positions(self, mask: np.ndarray | None = None) -> np.ndarray:
        pos = np.flatnonzero(self.alive if mask is None else self.alive & mask)
        if not self.in_order:
            pos = pos[np.argsort(self.ids[pos], kind="stable")]
        return pos

    def select(self, mask: np.ndarray | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """The alive rows (where ``mask``), in annotation_id order: one pass over the parts."""
        keep = self.alive if mask is None else self.alive & mask
        pieces, start = [], 0
        for part in self.parts:
            inside = keep[start : start + len(part)]
            start += len(part)
            if columns is not None:
                part = part[columns]
            if inside.all():
                pieces.append(part)
            elif inside.any():
                pieces.append(part[inside])  # a filter works chunk by chunk (no concatenation)
        if not pieces:
            return self.parts[0].iloc[:0] if columns is None else self.parts[0][columns].iloc[:0]
        out = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0].reset_index(drop=True)
        if not self.in_order:
            ids = out["annotation_id"].to_numpy() if "annotation_id" in out else self.ids[keep]
            if not (np.diff(ids) > 0).all():
                out = out.take(np.argsort(ids, kind="stable")).reset_index(drop=True)
        return out

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            pos = self._positions()
            frame = self.select()
            self._reset(frame, self.all_keys[pos])
        return self._frame

    @property
    def keys(self) -> np.ndarray:
        return self.all_keys[self._positions()]

    def sid_keys(self, sids) -> np.ndarray:
        """Keys of the alive rows whose submission id is in ``sids``."""
        hit = np.zeros(len(self.alive), dtype=bool)
        start = 0
        for part in self.parts:
            hit[start : start + len(part)] = isin(part["submission_id"], sids)
            start += len(part)
        return self.all_keys[hit & self.alive]

    def current_sids(self, keys: np.ndarray) -> list:
        """The current submission id of each key (None where the key has none)."""
        hit = np.flatnonzero(self.alive & pd.Series(self.all_keys).isin(keys).to_numpy())
        found = dict(zip(self.all_keys[hit].tolist(), self._column("submission_id", hit), strict=True))
        return [found.get(k) for k in keys.tolist()]

    def _column(self, col: str, positions: np.ndarray) -> list:
        """Values of ``col`` at storage ``positions`` (ascending)."""
        bounds = np.cumsum([0] + [len(p) for p in self.parts])
        out: list = []
        for k, part in enumerate(self.parts):
            inside = positions[(positions >= bounds[k]) & (positions < bounds[k + 1])] - bounds[k]
            out.extend(part[col].take(inside).tolist())
        return out

    def item_mask(self, item_codes: np.ndarray) -> np.ndarray:
        return np.isin(self.all_keys >> 32, item_codes)


class CurrentView:
    """The current rows of one view of the log (``where``: SQL conditions), kept up to date."""

    def __init__(self, where: str = "", params: dict | None = None):
        self.where, self.params = where, dict(params or {})
        self.upto = 0  # every row with annotation_id <= upto has been read, but `gaps`
        self.gaps = np.empty(0, dtype=np.int64)  # PostgreSQL: ids not committed at the last read
        self.pending: list[tuple[int, np.ndarray]] = []  # (snapshot xmax, gap ids) to confirm
        self.dead: set[str] = set()
        self.rows: Rows | None = None
        self._labels: tuple[int, pd.DataFrame] | None = None  # (version, labels() frame)
        self._current: tuple[int, pd.DataFrame] | None = None  # (version, current() frame)
        self.version = 0
        self.journal: list[tuple[int, np.ndarray]] = []  # (version, keys changed)

    # ---------------------------------------------------------------- refresh
    def refresh(self, engine: sa.Engine, codes: Codes) -> bool:
        """Read the rows written since the last refresh and fold them in; True if anything changed."""
        postgres = engine.dialect.name == "postgresql"
        with engine.connect() as conn:
            top = int(conn.exec_driver_sql("SELECT max(annotation_id) FROM annotations").scalar() or 0)
            xmin = _pg_xmin(conn) if postgres else None
        if self.rows is not None and top == self.upto and not len(self.gaps):
            return False
        if self.rows is None:
            log = read_annotations(engine, f"{self.where} AND annotation_id <= :top", {**self.params, "top": top})
            self.dead = set(log.loc[log["kind"] == "retract", "retracts"].dropna())
            self.rows = Rows(*_current(log, self.dead, codes.keys(log)))
            self._track(postgres, engine, log["annotation_id"].to_numpy(), 0, top, xmin)
            self.upto = top
            self.version += 1
            self.journal.clear()
            return True
        where = f"{self.where} AND annotation_id > :upto AND annotation_id <= :top"
        params = {**self.params, "upto": self.upto, "top": top}
        if len(self.gaps):
            where = f"{self.where} AND ((annotation_id > :upto AND annotation_id <= :top) OR annotation_id IN ({', '.join(str(int(g)) for g in self.gaps)}))"
        new = read_annotations(engine, where, params)
        late = new["annotation_id"].to_numpy() <= self.upto
        self._track(postgres, engine, new["annotation_id"].to_numpy(), self.upto, top, xmin)
        old_upto, self.upto = self.upto, top
        if new.empty:
            return False
        self._fold(engine, codes, new, late, old_upto)
        return True

    def _track(self, postgres, engine, seen: np.ndarray, lo: int, top: int, xmin) -> None:
        """PostgreSQL: remember ids below ``top`` not seen yet (their transactions may commit later)."""
        if not postgres:
            return
        gaps = np.setdiff1d(np.concatenate([self.gaps, np.arange(lo + 1, top + 1)]), seen)
        self.pending = [(h, g) for h, g in self.pending if xmin is None or h > xmin]
        waiting = np.concatenate([g for _, g in self.pending]) if self.pending else np.empty(0, np.int64)
        fresh = np.setdiff1d(gaps, np.concatenate([self.gaps, waiting]))  # new gaps this time
        if len(fresh):
            with engine.connect() as conn:
                self.pending.append((_pg_xmax(conn), fresh))
        keep = np.concatenate([g for _, g in self.pending]) if self.pending else np.empty(0, np.int64)
        self.gaps = np.intersect1d(gaps, keep)

    def _fold(self, engine, codes: Codes, new: pd.DataFrame, late: np.ndarray, old_upto: int) -> None:
        retract = (new["kind"] == "retract").to_numpy()
        newly_dead = set(new.loc[retract, "retracts"].dropna()) - self.dead
        self.dead |= newly_dead
        live = new[~retract & ~isin(new["submission_id"], self.dead)].reset_index(drop=True)
        rows = self.rows
        reload = set()
        if newly_dead:
            reload.update(rows.sid_keys(newly_dead).tolist())
        replace_keys: list[int] = []
        take = np.zeros(len(live), dtype=bool)
        if len(live):
            keys = codes.keys(live)
            if late.any():
                reload.update(codes.keys(new[late]).tolist())
            winners = pd.DataFrame({"key": keys, "sid": live["submission_id"]}).drop_duplicates("key", keep="last")
            now_sid = rows.current_sids(winners["key"].to_numpy())
            seen = _seen_before(engine, set(winners["sid"]), old_upto)
            use = np.zeros(len(winners), dtype=bool)
            for k, (key, sid, now) in enumerate(zip(winners["key"], winners["sid"], now_sid, strict=True)):
                if key in reload:
                    continue
                if sid == now:  # more rows of the current submission
                    use[k] = True
                elif sid in seen:  # an older submission id again: read the key from the log
                    reload.add(key)
                else:  # a new submission replaces the key's rows
                    use[k] = True
                    replace_keys.append(key)
            row_winner = pd.Index(winners["key"]).get_indexer(keys)
            win_sid = _arrow(winners["sid"]).take(pa.array(row_winner))
            same = pc.equal(_arrow(live["submission_id"]), win_sid).to_numpy(zero_copy_only=False)
            take = use[row_winner] & np.asarray(same, dtype=bool)
        parts, part_keys = [], []
        if take.any():
            parts.append(live[take])
            part_keys.append(keys[take])
        if reload:
            loaded = self._reload(engine, codes, np.fromiter(reload, np.int64), self.upto)
            parts.append(loaded.frame)
            part_keys.append(loaded.keys)
        remove = np.fromiter(set(replace_keys) | reload, np.int64)
        if parts:
            added = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
            added_keys = np.concatenate(part_keys)
            order = np.argsort(added["annotation_id"].to_numpy(), kind="stable")
            added, added_keys = added.take(order).reset_index(drop=True), added_keys[order]
        else:
            added, added_keys = live.iloc[:0], np.empty(0, np.int64)
        if not len(remove) and added.empty:
            return
        self.rows.apply(remove, added, added_keys)
        self.version += 1
        self.journal.append((self.version, np.union1d(remove, added_keys)))
        del self.journal[:-_JOURNAL]

    def _reload(self, engine, codes: Codes, keys: np.ndarray, top: int) -> Rows:
        """The current rows of ``keys``, read again from the log (up to ``top``)."""
        items = codes.items(keys)
        frames = []
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            names = {f"it{k}": v for k, v in enumerate(chunk)}
            where = f"{self.where} AND annotation_id <= :top AND item_id IN ({', '.join(':' + n for n in names)})"
            frames.append(read_annotations(engine, where, {**self.params, **names, "top": top}))
        log = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        log_keys = codes.keys(log)
        mine = np.isin(log_keys, keys)
        return Rows(*_current(log[mine].reset_index(drop=True), self.dead, log_keys[mine]))

    # ------------------------------------------------------------------ reads
    def current(self) -> pd.DataFrame:
        if self._current is None or self._current[0] != self.version:
            self._current = (self.version, _outward(self.rows.frame))
        return self._current[1].copy(deep=False)

    def label_rows(self) -> pd.DataFrame:
        if self._labels is None or self._labels[0] != self.version:
            self._labels = (self.version, _outward(self.rows.select(self.rows.labels, LABEL_COLUMNS)))
        return self._labels[1].copy(deep=False)

    def changed_since(self, version: int) -> np.ndarray | None:
        """Keys changed after ``version`` (None: too long ago, rebuild)."""
        if version == self.version:
            return np.empty(0, np.int64)
        entries = [k for v, k in self.journal if v > version]
        if not self.journal or self.journal[0][0] > version + 1:
            return None
        return np.unique(np.concatenate(entries)) if entries else np.empty(0, np.int64)


def _is_label(frame: pd.DataFrame) -> np.ndarray:
    return (frame["kind"].isin(_SHAPES) & frame["label"].notna()).to_numpy()


def _seen_before(engine, sids: set[str], upto: int) -> set[str]:
    """Which of ``sids`` occur at or below ``annotation_id`` ``upto``."""
    found: set[str] = set()
    sids = list(sids)
    with engine.connect() as conn:
        for start in range(0, len(sids), 500):
            chunk = sids[start : start + 500]
            names = {f"s{k}": v for k, v in enumerate(chunk)}
            sql = sa.text(
                f"SELECT DISTINCT submission_id FROM annotations WHERE annotation_id <= :upto "
                f"AND submission_id IN ({', '.join(':' + n for n in names)})"
            )
            found.update(conn.execute(sql, {**names, "upto": upto}).scalars())
    return found


def _pg_xmin(conn) -> int:
    return int(conn.exec_driver_sql("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").scalar())


def _pg_xmax(conn) -> int:
    return int(conn.exec_driver_sql("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").scalar())
