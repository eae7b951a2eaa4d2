"""Benchmark: ``resolve()`` against cleanlab's majority vote on the same votes, in one run.

Votes: ``--items`` items (default 1,000,000), each labelled by two of ten simulated raters
(error rate 15 %, five classes); every item whose two votes differ gets a third vote from a
third rater. The votes are one long DataFrame shaped like ``store.labels()`` (string item ids,
rater names and labels), which is what a notebook holds.

Timed (median and p95 of ``--repeats`` runs each, the four taking turns so that load on a
shared machine hits them alike):

* ``resolve`` as called by default (policy ``"tiebreak"``, with the ``votes`` dict column);
* ``resolve(votes=False)`` (the same decisions, without building one dict per item);
* cleanlab as a user runs it from the same long votes: integer-encode the labels,
  ``convert_long_to_wide_dataset``, then ``get_majority_vote_label`` with its defaults;
* cleanlab's ``get_majority_vote_label(verbose=False)`` alone on a prebuilt float matrix
  (its core, input checks off; the long-to-wide step not counted).

Then the labels are compared wherever both rules decide (``agreed``/``tiebroken`` items,
where cleanlab needs no tie-break of its own).

Run: ``nice -n 10 .venv/bin/python benchmarks/voting_resolve.py [--items N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

from labelwidgets.voting import resolve

CLASSES = np.array(["bird", "cat", "dog", "fish", "horse"], dtype=object)


def make_votes(
    n_items: int, n_raters: int = 10, error: float = 0.15, seed: int = 0
) -> pd.DataFrame:
    """Long votes: two raters per item, a third on each disagreement."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(CLASSES), n_items)

    def noisy() -> np.ndarray:
        wrong = (truth + rng.integers(1, len(CLASSES), n_items)) % len(CLASSES)
        return np.where(rng.random(n_items) < error, wrong, truth)

    r1 = rng.integers(0, n_raters, n_items)
    r2 = (r1 + rng.integers(1, n_raters, n_items)) % n_raters
    r3 = r1.copy()
    while (clash := (r3 == r1) | (r3 == r2)).any():
        r3[clash] = rng.integers(0, n_raters, int(clash.sum()))
    v1, v2, v3 = noisy(), noisy(), noisy()
    third = np.flatnonzero(v1 != v2)
    items = np.array([f"img_{i:07d}.jpg" for i in range(n_items)], dtype=object)
    raters = np.array([f"rater_{r:02d}" for r in range(n_raters)], dtype=object)
    ids = np.concatenate([np.arange(n_items), np.arange(n_items), third])
    return pd.DataFrame(
        {
            "item_id": pd.array(items[ids], dtype="str"),
            "task": pd.array(np.full(len(ids), "animal", dtype=object), dtype="str"),
            "rater": pd.array(raters[np.concatenate([r1, r2, r3[third]])], dtype="str"),
            "label": pd.array(CLASSES[np.concatenate([v1, v2, v3[third]])], dtype="str"),
        }
    )


def cleanlab_from_long(votes: pd.DataFrame) -> tuple[pd.Index, np.ndarray]:
    """cleanlab's path from long votes: encode labels, go wide, majority vote (defaults)."""
    from cleanlab.multiannotator import convert_long_to_wide_dataset, get_majority_vote_label

    codes, classes = pd.factorize(votes["label"], sort=True)
    long = pd.DataFrame({"task": votes["item_id"], "annotator": votes["rater"], "label": codes})
    wide = convert_long_to_wide_dataset(long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        consensus = get_majority_vote_label(wide)
    return wide.index, np.asarray(classes, dtype=object)[consensus.astype(int)]


def timed(fns: dict, repeats: int) -> dict:
    """Median and p95 seconds of each function, and its last output.

    The functions take turns (round-robin), so a load spike on this shared machine hits all of
    them alike rather than one block of repeats.
    """
    times = {name: [] for name in fns}
    outs = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            outs[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (float(np.median(t)), float(np.percentile(t, 95)), outs[name])
            for name, t in times.items()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from cleanlab.multiannotator import get_majority_vote_label

    votes = make_votes(args.items)
    n_third = len(votes) - 2 * args.items
    print(f"votes: {len(votes):,} rows ({args.items:,} items x 2 raters + {n_third:,} third votes); "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip

    # cleanlab's core alone, on the float matrix it wants (built outside the timing)
    codes, _ = pd.factorize(votes["label"], sort=True)
    item_codes = pd.factorize(votes["item_id"])[0]
    slot = votes.groupby(item_codes).cumcount().to_numpy()
    matrix = np.full((args.items, 3), np.nan)
    matrix[item_codes, slot] = codes

    got = timed(
        {
            "resolve": lambda: resolve(votes),
            "lean": lambda: resolve(votes, votes=False),
            "cleanlab": lambda: cleanlab_from_long(votes),
            "core": lambda: get_majority_vote_label(matrix, verbose=False),
        },
        args.repeats,
    )
    res_med, res_p95, resolved = got["resolve"]
    lean_med, lean_p95, _ = got["lean"]
    cl_med, cl_p95, (cl_items, cl_labels) = got["cleanlab"]
    core_med, core_p95, _ = got["core"]

    rows = [
        ("resolve (default, votes dicts)", res_med, res_p95),
        ("resolve(votes=False)", lean_med, lean_p95),
        ("cleanlab from long votes (encode + wide + default call)", cl_med, cl_p95),
        ("cleanlab core only (prebuilt matrix, verbose=False)", core_med, core_p95),
    ]
    print(f"\n{'what':58s} {'median s':>9s} {'p95 s':>9s}")
    for name, med, p95 in rows:
        print(f"{name:58s} {med:9.3f} {p95:9.3f}")
    print("\nratios (cleanlab time / resolve time; target >= 10):")
    print(f"  cleanlab from long / resolve default      = {cl_med / res_med:6.1f}x")
    print(f"  cleanlab from long / resolve(votes=False) = {cl_med / lean_med:6.1f}x")
    print(f"  cleanlab core      / resolve default      = {core_med / res_med:6.1f}x")
    print(f"  cleanlab core      / resolve(votes=False) = {core_med / lean_med:6.1f}x")

    ours = resolved.set_index("item_id")
    theirs = pd.Series(cl_labels, index=cl_items.astype(object)).reindex(ours.index)
    decided = ours["status"].isin(["agreed", "tiebroken"]).to_numpy()
    same = ours["label"].to_numpy(dtype=object)[decided] == theirs.to_numpy(dtype=object)[decided]
    print("\nstatus counts:", ours["status"].value_counts().to_dict())
    print(f"labels compared where both decide: {int(decided.sum()):,}; identical: {int(same.sum()):,}; "
          f"different: {int((~same).sum()):,}")  # fmt: skip
    print(f"left to cleanlab's own tie-break (resolve: discarded): {int((~decided).sum()):,}")


if __name__ == "__main__":
    main()
