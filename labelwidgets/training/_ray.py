"""The prediction step on Ray Data: ``predict_to_store(..., engine="ray")``.

The pool's item ids (and image paths) become a Ray dataset (``ray.data.from_items``, one block
per batch); ``map_batches`` runs :class:`BatchWriter`, a callable class, on a pool of actors.
Each actor builds the model once, from bytes the driver put in Ray's object store:

* a :class:`~labelwidgets.training.Classifier` of a named network and any ultralytics detector
  travel as a labelwidgets ``.safetensors`` file (``Classifier.save`` / ``save_detector``:
  tensors and a checked JSON config; nothing in it runs when the actor loads it);
* any other fitted estimator (a module of your own, a YoloClassifier) travels as the Python
  object itself, pickled by Ray: a model that this process built, never a file someone gave.

Each actor writes its batches to the store itself (``append_many``: one transaction per batch)
and returns counts only, which the driver adds up for the progress bar. Before writing, an actor
asks the store which items of its batch already hold this run's prediction (an indexed lookup)
and leaves them out, so a batch that Ray retries after it was committed writes nothing twice:
writes are idempotent per (model, task, source, round, item).

Images: an :class:`~labelwidgets.images.ImageSet` travels as paths (each actor opens the files:
on a cluster they must be on storage every node reads); anything else (ArrayImages) travels as
the object. The store: PostgreSQL in team mode; an SQLite file only when every Ray node is this
machine (:func:`check_store_reachable`), since workers elsewhere cannot open it.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import pandas as pd

from .._validate import InputError, check_positive_int

__all__ = ["import_ray", "check_store_reachable", "model_payload", "rebuild_model",
           "BatchWriter", "run_on_ray"]  # fmt: skip

INSTALL_HINT = 'pip install "labelwidgets[cluster]"'


def import_ray():
    """``ray`` (with Ray Data), or an :class:`InputError` that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise InputError(
            f"`engine` 'ray' needs Ray Data, which is not installed ({exc}). Install it with "
            f"{INSTALL_HINT}, or pass engine='local'."
        ) from None
    return ray


def check_store_reachable(store, node_addresses, driver_address: str, client: bool = False) -> None:
    """Refuse an SQLite store when some Ray worker would run on another machine.

    Parameters
    ----------
    store : LabelStore
        The store the workers write to.
    node_addresses : iterable of str
        The addresses of the cluster's live nodes (``ray.nodes()``' ``NodeManagerAddress``).
    driver_address : str
        This machine's address as Ray sees it (``ray.util.get_node_ip_address()``).
    client : bool, default=False
        Whether this process is a Ray Client (``ray://``): the cluster is elsewhere.

    Raises
    ------
    InputError
        For an SQLite store (or an in-memory one) that a worker could not open: it names the
        nodes and says to use a PostgreSQL URL.
    """
    if store.dialect != "sqlite":
        return
    database = store.engine.url.database
    fix = (
        "Use a PostgreSQL store that every node reaches, e.g. "
        "LabelStore('postgresql://user@db-host:5432/labels'), or run engine='local', or a "
        "local Ray instance (ray.init() on this machine)."
    )
    if not database or database == ":memory:":
        raise InputError(
            f"`store` must be a file or a PostgreSQL database for engine='ray'. Got an in-memory "
            f"SQLite store ({store!r}), which Ray workers cannot see. {fix}"
        )
    elsewhere = sorted({str(a) for a in node_addresses if str(a) != str(driver_address)})
    if client or elsewhere:
        where = "a Ray Client connection to a remote cluster" if client else (
            f"nodes {elsewhere} besides this machine ({driver_address})")
        raise InputError(
            f"`store` must be a PostgreSQL URL when Ray workers run on other machines. Got the "
            f"SQLite file {database!r} and {where}: workers there cannot reach that file (and "
            f"SQLite must not be shared over a network file system). {fix}"
        )


def model_payload(model, kind: str, name: str):
    """What travels to the actors: ``("classifier" | "detector", safetensors bytes)`` for a
    model the package can save without pickling, else ``("object", model)``."""
    from .classifier import Classifier
    from .models import MODELS

    with tempfile.TemporaryDirectory(prefix="lw-ray-") as tmp:
        path = Path(tmp) / "model.safetensors"
        if kind == "detect":
            from .detector import save_detector

            save_detector(model, path, name=name)
            return "detector", path.read_bytes()
        if type(model) is Classifier and isinstance(model.model, str) and model.model in MODELS:
            model.save(path)
            return "classifier", path.read_bytes()
    return "object", model


def rebuild_model(payload):
    """The model from :func:`model_payload`'s output, built once in an actor."""
    what, value = payload
    if what == "object":
        return value
    with tempfile.TemporaryDirectory(prefix="lw-ray-") as tmp:
        path = Path(tmp) / "model.safetensors"
        path.write_bytes(value)
        if what == "detector":
            from .detector import load_detector

            return load_detector(path)
        from .classifier import Classifier

        return Classifier.load(path, verbose=False)


class BatchWriter:
    """A Ray Data callable class: predicts a batch of item ids and writes it to the store.

    Parameters
    ----------
    predictor : labelwidgets.training.stream.Predictor
        The run (task, model name, source, round, classes, detector options).
    model : ray.ObjectRef or tuple
        :func:`model_payload`'s output (or a reference to it).
    images : ray.ObjectRef, object or None
        The images object, or None when each batch carries a ``path`` column.
    store_url : str
        The store's SQLAlchemy URL (each actor opens its own connection pool).
    """

    def __init__(self, predictor, model, images, store_url: str):
        import ray

        from ..store import LabelStore

        self.predictor = predictor
        self.model = rebuild_model(ray.get(model) if isinstance(model, ray.ObjectRef) else model)
        self.images = ray.get(images) if isinstance(images, ray.ObjectRef) else images
        self.store = LabelStore(store_url)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from ..images import open_image
        from .stream import BatchImages, predicted_items

        tic = time.perf_counter()
        p = self.predictor
        ids = [str(i) for i in batch["item_id"]]
        done = predicted_items(self.store, p.task, p.model_name, p.source, p.round, item_ids=ids)
        todo = [i for i in ids if i not in done]
        n_rows = 0
        if todo:
            if self.images is None:
                paths = dict(zip(ids, batch["path"], strict=True))
                view = BatchImages(None, todo, load=lambda i: open_image(paths[i]))
            else:
                view = BatchImages(self.images, todo)
            subs = p.submissions(self.model, view, todo)
            self.store.append_many(subs)
            n_rows = sum(len(s) for s in subs)
        return pd.DataFrame({"n_items": [len(ids)], "n_predicted": [len(todo)],
                             "n_rows": [n_rows], "seconds": [time.perf_counter() - tic]})  # fmt: skip


def _connect(ray, address):
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, ignore_reinit_error=True,
                 log_to_driver=False)  # fmt: skip
    client = False
    try:
        from ray.util.client import ray as client_ray

        client = bool(client_ray.is_connected())
    except ImportError:
        client = False
    return client


def run_on_ray(predictor, model, images, todo, store, report, bar, *, batch_size: int,
               address=None, workers=None, options=None) -> None:  # fmt: skip
    """Run the batches of ``todo`` on Ray Data actors; add their counts to ``report``."""
    ray = import_ray()
    if options is not None and not isinstance(options, dict):
        raise InputError(
            f"`ray_options` must be a dict of map_batches arguments such as {{'num_gpus': 1}}. "
            f"Got {options!r} instead."
        )
    if workers is not None:
        workers = check_positive_int(workers, "workers")
    if isinstance(address, str) and address.startswith("ray://") and store.dialect == "sqlite":
        check_store_reachable(store, [], "", client=True)
    client = _connect(ray, address)
    nodes = [n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")]
    check_store_reachable(store, nodes, ray.util.get_node_ip_address(), client=client)
    if not todo:
        return
    by_path = callable(getattr(images, "path", None)) and "path" in getattr(images, "items", {})
    if by_path:
        rows = [{"item_id": i, "path": str(images.path(i))} for i in todo]
        images_ref = None
    else:
        rows = [{"item_id": i} for i in todo]
        try:
            images_ref = ray.put(images)
        except Exception as exc:  # Ray's serializer raises several types for what it cannot pickle
            raise InputError(
                "`images` must be an ImageSet (files the workers open) or an object Ray can "
                f"send to them. Got {type(images).__name__}, which Ray cannot serialize ({exc})."
            ) from None
    model_ref = ray.put(model_payload(model, predictor.kind, predictor.model_name))
    if workers is None:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
    remote = {"num_cpus": 1, **(options or {})}
    context = ray.data.DataContext.get_current()
    saved = context.enable_progress_bars
    context.enable_progress_bars = False
    try:
        ds = ray.data.from_items(rows, override_num_blocks=max(1, math.ceil(len(rows) / batch_size)))
        del rows
        out = ds.map_batches(
            BatchWriter, batch_size=batch_size, batch_format="pandas",
            compute=ray.data.ActorPoolStrategy(size=min(workers, math.ceil(len(todo) / batch_size))),
            fn_constructor_kwargs={"predictor": predictor, "model": model_ref,
                                   "images": images_ref, "store_url": store.url},
            **remote,
        )  # fmt: skip
        for counts in out.iter_batches(batch_size=None, batch_format="pandas"):
            for r in counts.itertuples(index=False):
                report.n_already += int(r.n_items - r.n_predicted)  # committed by a retry
                if r.n_predicted:
                    report.add_batch(r.n_predicted, r.n_rows, r.seconds)
                bar.update(int(r.n_items))
    finally:
        context.enable_progress_bars = saved
