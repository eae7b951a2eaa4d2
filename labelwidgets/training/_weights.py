"""Model files that never run code: tensors in safetensors, a JSON config checked key by key.

A saved model is one ``.safetensors`` file: the network's tensors, and in the file's header (the
metadata that safetensors keeps as plain strings) a JSON config under the key ``labelwidgets``.
Reading it parses JSON and copies tensors; nothing is unpickled and nothing is evaluated. The
config names a known layout only: a model YAML that ultralytics ships (``yolov8n.yaml``,
``yolo11n.yaml``, ...) for detectors, one of :data:`~labelwidgets.training.models.MODELS` for
classifiers. Every key is checked and unknown keys are refused, so a file cannot smuggle in an
``activation`` string (which ultralytics passes to ``eval``) or a path to a YAML of its own.

Model YAMLs are always read from ultralytics' own package folder, never from the working folder:
``YOLO("yolov8n.yaml")`` would take a file of that name from the working folder first.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .._validate import InputError, check_choice, check_name, check_names, check_positive_int

__all__ = ["save_weights", "read_weights", "ultralytics_yaml", "CONFIG_KEY"]

#: The safetensors metadata key that holds the JSON config.
CONFIG_KEY = "labelwidgets"
#: The format name and the keys of each kind of saved model (version 1).
_SCHEMAS = {
    "detector": ("labelwidgets.detector", ("format", "version", "model", "classes", "imgsz", "name")),
    "classifier": ("labelwidgets.classifier", ("format", "version", "model", "classes", "image_size")),
}
#: The largest image side a saved config may ask for (pixels).
MAX_SIDE = 8192
_YAML_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\.ya?ml")
# ultralytics' own rule (ultralytics.nn.tasks.yaml_model_load): yolov8n.yaml -> yolov8.yaml
_SCALE = re.compile(r"(\d+)([nslmx])(.+)?$")


def _ultralytics_root() -> Path:
    from .._offline import prepare_ultralytics

    prepare_ultralytics()
    import ultralytics

    return Path(ultralytics.__file__).resolve().parent / "cfg" / "models"


def ultralytics_yaml(name, task: str | None = None) -> Path:
    """The model YAML ``name`` as an absolute path inside ultralytics' package.

    Parameters
    ----------
    name : str
        A file name that ultralytics ships, with or without the scale letter:
        ``"yolov8n.yaml"``, ``"yolo11s.yaml"``, ``"yolov8n-cls.yaml"``, ``"yolov8.yaml"``.
    task : {"detect", "classify", "segment", "pose", "obb"} or None, default=None
        The task the layout must have (as ultralytics guesses it from the YAML).

    Returns
    -------
    pathlib.Path
        ``<ultralytics>/cfg/models/<family>/<name>``; the file itself may not exist when
        ``name`` carries a scale letter (ultralytics reads the unscaled file beside it).

    Raises
    ------
    InputError
        When ``name`` is a path, not a YAML name, not shipped by ultralytics, or of another task.
    """
    hint = (
        "the name of a model YAML that ultralytics ships, such as 'yolov8n.yaml', 'yolo11n.yaml' "
        "or 'yolov8n-cls.yaml' (a path or a YAML of your own is not accepted: its `activation` "
        "would run as code)"
    )
    if not isinstance(name, str) or not _YAML_NAME.fullmatch(name):
        raise InputError(f"`model` must be {hint}. Got {name!r} instead.")
    root = _ultralytics_root()
    unified = _SCALE.sub(r"\1\3", Path(name).stem) + Path(name).suffix
    found = sorted({p for n in {name, unified} for p in root.rglob(n) if p.is_file()})
    if len(found) != 1:
        raise InputError(f"`model` must be {hint}. Got {name!r} instead.")
    path = found[0].parent / name
    # ultralytics applies its scale rule to the whole path: it must not match in the folders
    if _SCALE.sub(r"\1\3", str(path)) != str(found[0].parent / unified):
        raise InputError(
            f"`model` {name!r} cannot be read safely: ultralytics is installed under "
            f"{str(found[0].parent)!r}, a folder whose name its YAML loader rewrites. Install it "
            "under a folder without a digit followed by n, s, m, l or x."
        )
    if task is not None:
        from ultralytics.nn.tasks import guess_model_task, yaml_model_load

        got = guess_model_task(yaml_model_load(path))
        if got != task:
            raise InputError(
                f"`model` must be a {task} layout. Got {name!r}, a {got} layout, instead."
            )
    return path


def save_weights(path, state_dict, config: dict) -> Path:
    """Write ``state_dict`` (name -> tensor) and the JSON ``config`` to a ``.safetensors`` file.

    The config is checked first, exactly as :func:`read_weights` checks it.
    """
    from safetensors.torch import save_file

    _check_config(config)
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(
            f"`path` must end with '.safetensors'. Got {str(path)!r} instead."
        )
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={CONFIG_KEY: json.dumps(config)})
    return path


def read_weights(path, kind: str) -> tuple[dict, dict]:
    """The checked config and the tensors of a file written by :func:`save_weights`.

    Parameters
    ----------
    path : str or path-like
        A ``.safetensors`` file.
    kind : {"detector", "classifier"}
        What the file must hold.

    Returns
    -------
    (dict, dict)
        The config and ``{name: torch.Tensor}`` (on the CPU).

    Raises
    ------
    InputError
        When the file is not a safetensors file of this kind or its config breaks the schema.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise InputError(f"`path` must be an existing file. Got {str(path)!r} instead.")
    try:
        with safe_open(str(path), "pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for a bad header
        raise InputError(
            f"`path` must be a safetensors file written by labelwidgets. Got {str(path)!r}, "
            f"which safetensors cannot read ({exc})."
        ) from None
    raw = metadata.get(CONFIG_KEY)
    try:
        config = json.loads(raw) if raw is not None else None
    except ValueError:
        config = None
    if not isinstance(config, dict):
        raise InputError(
            f"`path` must hold a labelwidgets {kind} (a JSON config under {CONFIG_KEY!r} in the "
            f"safetensors header). Got {str(path)!r} without one."
        )
    _check_config(config, kind)
    return config, tensors


def _check_config(config: dict, kind: str | None = None) -> dict:
    """Check every key of a saved model's config against its schema; refuse unknown keys."""
    fmt = config.get("format") if isinstance(config, dict) else None
    formats = {f: k for k, (f, _) in _SCHEMAS.items()}
    found = formats.get(fmt)
    if found is None or (kind is not None and found != kind):
        wanted = _SCHEMAS[kind][0] if kind else sorted(formats)
        raise InputError(f"The model config's `format` must be {wanted!r}. Got {fmt!r} instead.")
    keys = _SCHEMAS[found][1]
    unknown = sorted(set(config) - set(keys), key=str)
    missing = [k for k in keys if k not in config]
    if unknown or missing:
        raise InputError(
            f"The model config must have exactly the keys {list(keys)}. Got unknown keys "
            f"{unknown} and missing keys {missing} instead."
        )
    if config["version"] != 1 or isinstance(config["version"], bool):
        raise InputError(
            f"The model config's `version` must be 1. Got {config['version']!r} instead; "
            "upgrade labelwidgets to read it."
        )
    if not isinstance(config["classes"], list):
        raise InputError(
            f"The model config's `classes` must be a list of names. Got "
            f"{config['classes']!r} instead."
        )
    check_names(config["classes"], "classes")
    if found == "detector":
        ultralytics_yaml(config["model"], task="detect")
        _check_side(config["imgsz"], "imgsz", 32)
        check_name(config["name"], "name")
    else:
        from .models import MODELS

        check_choice(config["model"], MODELS, "model")
        _check_side(config["image_size"], "image_size", 1)
    return config


def _check_side(value, what: str, minimum: int) -> int:
    """An image side in pixels, from ``minimum`` to :data:`MAX_SIDE`."""
    check_positive_int(value, what, minimum=minimum)
    if value > MAX_SIDE:
        raise InputError(f"`{what}` must be at most {MAX_SIDE}. Got {value!r} instead.")
    return int(value)
