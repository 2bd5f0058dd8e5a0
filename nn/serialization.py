"""Saving and loading models and training states as ``.npz`` files, without pickle.

A file holds one *state*: a nested structure of dicts (string or integer keys), lists and
tuples whose leaves are numpy arrays (or numpy scalars), Python ``int``, ``float``, ``bool``,
``str`` or ``None``, the layout of every ``state_dict()`` here and in PyTorch. Each array is one
``.npy`` entry of the zip archive, named after where it sits (``model/0.weight.npy``), so
``np.load`` reads it too; the structure, with the type of every leaf (ints stay ints, tuples stay
tuples), is the JSON entry ``__structure__.json``. Loading never unpickles (a downloaded file
cannot run code), and checks everything before any model changes.

Writing is atomic: the data goes to a temporary file in the same folder, is flushed to disk
(``fsync``), then renamed over the target, so an interrupted save leaves the old file intact.

>>> import os, tempfile
>>> from nn import Linear, load, save
>>> path = os.path.join(tempfile.mkdtemp(), "linear.npz")
>>> save(Linear(3, 2, rng=0), path)
>>> model = load(Linear(3, 2, rng=1), path)
>>> bool((model.weight.data == Linear(3, 2, rng=0).weight.data).all())
True
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping

import numpy as np

FORMAT = "autodiff.nn state"
VERSION = 1
STRUCTURE = "__structure__.json"

# --------------------------------------------------------------------------------------------
# Structure <-> JSON and arrays
# --------------------------------------------------------------------------------------------


def _where(text: str) -> str:
    return text or "the state"


def _child(text: str, key: Any) -> str:
    """How an error names item `key` of the object named `text`: ``optimizer['state'][0]``."""
    return f"{text}[{key!r}]" if text else str(key)


def _entry_name(path: tuple, taken: Any) -> str:
    """A readable, unique archive name for the array at `path`: keys joined by '/'."""
    parts = [re.sub(r"[^A-Za-z0-9._-]", "_", str(key)) or "_" for key in path]
    base = "/".join(part if part not in (".", "..") else "_" for part in parts) or "array"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}~{n}"
    return name


def _encode(obj: Any, path: tuple, text: str, arrays: dict, active: set) -> Any:
    """The JSON form of `obj`; its arrays go into `arrays` (entry name -> array).

    `text` spells `path` as Python would index it, for error messages.
    """
    if obj is None:
        return {"none": None}
    kind = type(obj)
    if kind is bool:
        return {"bool": obj}
    if kind is int:
        return {"int": obj}
    if kind is float:
        return {"float": obj if math.isfinite(obj) else repr(obj)}  # 'nan', 'inf', '-inf'
    if kind is str:
        return {"str": obj}
    if isinstance(obj, (np.ndarray, np.generic)):
        array = np.asarray(obj)
        if array.dtype.kind not in "biufc":
            raise TypeError(
                f"{_where(text)} is an array of dtype {array.dtype}; only numbers "
                "(bool, int, uint, float, complex) can be saved without pickle"
            )
        entry = _entry_name(path, arrays.keys())
        arrays[entry] = array
        return {"array" if isinstance(obj, np.ndarray) else "scalar": entry}
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in active:
            raise TypeError(f"{_where(text)} contains itself")
        active.add(id(obj))
        try:
            if isinstance(obj, dict):
                items = []
                for key, value in obj.items():
                    if type(key) is not str and type(key) is not int:
                        raise TypeError(
                            f"{_where(text)} has a key {key!r} of type "
                            f"{type(key).__name__}; keys must be str or int"
                        )
                    json_key = {"int": key} if type(key) is int else key
                    value = _encode(value, (*path, key), _child(text, key), arrays, active)
                    items.append([json_key, value])
                return {"dict": items}
            values = [
                _encode(value, (*path, i), _child(text, i), arrays, active)
                for i, value in enumerate(obj)
            ]
            return {"tuple" if isinstance(obj, tuple) else "list": values}
        finally:
            active.discard(id(obj))
    hint = " (pass its .data, a numpy array)" if hasattr(obj, "requires_grad") else ""
    raise TypeError(
        f"{_where(text)} is a {type(obj).__name__}{hint}; a state may hold dicts, lists, "
        "tuples, numpy arrays, int, float, bool, str and None"
    )


class _Corrupt(ValueError):
    """A structure that does not decode: the message says what is wrong."""


def _decode(node: Any, arrays: Mapping[str, np.ndarray], used: set) -> Any:
    """The object a JSON node stands for (the inverse of `_encode`)."""
    if not isinstance(node, dict) or len(node) != 1:
        raise _Corrupt(f"unexpected node {str(node)[:60]!r}")
    ((tag, value),) = node.items()
    if tag == "none":
        return None
    if tag in ("bool", "int", "str"):
        expected = {"bool": bool, "int": int, "str": str}[tag]
        if type(value) is not expected:
            raise _Corrupt(f"a {tag} node holds {value!r}")
        return value
    if tag == "float":
        if isinstance(value, str) and value in ("nan", "inf", "-inf"):
            return float(value)
        if type(value) not in (int, float):
            raise _Corrupt(f"a float node holds {value!r}")
        return float(value)
    if tag in ("array", "scalar"):
        if not isinstance(value, str) or value not in arrays:
            raise _Corrupt(f"the array entry {value!r} is missing")
        used.add(value)
        array = arrays[value]
        if tag == "scalar":
            if array.shape != ():
                raise _Corrupt(f"the scalar entry {value!r} has shape {array.shape}")
            return array[()]
        return array
    if tag in ("list", "tuple"):
        if not isinstance(value, list):
            raise _Corrupt(f"a {tag} node holds {type(value).__name__}")
        items = [_decode(item, arrays, used) for item in value]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict":
        if not isinstance(value, list):
            raise _Corrupt(f"a dict node holds {type(value).__name__}")
        result = {}
        for pair in value:
            if not isinstance(pair, list) or len(pair) != 2:
                raise _Corrupt(f"a dict item is {str(pair)[:60]!r}")
            key, item = pair
            if isinstance(key, dict) and set(key) == {"int"} and type(key["int"]) is int:
                key = key["int"]
            elif not isinstance(key, str):
                raise _Corrupt(f"a dict key is {key!r}")
            result[key] = _decode(item, arrays, used)
        return result
    raise _Corrupt(f"unknown node type {tag!r}")


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def _atomic_write(path: Path, write: Callable[[BinaryIO], None], op: str) -> None:
    """Run `write` on a temporary file beside `path`, make it durable, then rename it over
    `path`; on any error (or interrupt) the temporary file is removed and `path` untouched."""
    folder = path.parent
    if not folder.exists():
        raise FileNotFoundError(f"{op}: cannot write {path}: folder {folder} does not exist")
    if not folder.is_dir():
        raise NotADirectoryError(f"{op}: cannot write {path}: {folder} is not a folder")
    if path.is_dir():
        raise IsADirectoryError(f"{op}: cannot write {path}: it is a folder")
    temporary = folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        # os.open with mode 0o666 lets the umask decide the permissions, as open() does
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except PermissionError:
        raise PermissionError(
            f"{op}: cannot write {path}: permission denied in folder {folder}"
        ) from None
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        directory = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def _write_state(path: Any, header: dict, state: Any, op: str) -> None:
    arrays: dict[str, np.ndarray] = {}
    try:
        structure = _encode(state, (), "", arrays, set())
    except TypeError as error:
        raise TypeError(f"{op}: {error}") from None
    text = json.dumps({"format": FORMAT, "version": VERSION, **header, "state": structure})

    def write(file: BinaryIO) -> None:
        with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
            archive.writestr(STRUCTURE, text)
            for name, array in arrays.items():
                with archive.open(name + ".npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)

    _atomic_write(Path(path), write, op)


def _read_arrays(path: Path, op: str) -> tuple[bytes | None, dict[str, np.ndarray]]:
    """The JSON entry (None in a plain numpy archive) and every array of the archive."""

    def corrupt(what: str) -> ValueError:
        return ValueError(f"{op}: {path} is not a readable saved state: {what}")

    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise corrupt(f"not a complete .npz (zip) archive, perhaps truncated ({error})") from None
    except PermissionError:
        raise PermissionError(f"{op}: cannot read {path}: permission denied") from None
    text = None
    arrays: dict[str, np.ndarray] = {}
    with archive:
        for name in archive.namelist():
            try:
                if name == STRUCTURE:
                    text = archive.read(name)
                    continue
                if not name.endswith(".npy"):
                    raise corrupt(f"unexpected entry {name!r}")
                with archive.open(name) as member:
                    arrays[name[: -len(".npy")]] = np.lib.format.read_array(
                        member, allow_pickle=False
                    )
                    if member.read(1):
                        raise corrupt(f"entry {name!r} has data after its array")
            except (zipfile.BadZipFile, EOFError, OSError) as error:
                raise corrupt(f"entry {name!r} is damaged ({error})") from None
            except ValueError as error:
                if str(error).startswith(f"{op}: "):
                    raise
                what = f"entry {name!r} is not a numpy array readable without pickle ({error})"
                raise corrupt(what) from None
    return text, arrays


def _read_state(path: Any, op: str) -> tuple[dict, Any]:
    """(header, state) from `path`; a ValueError naming the path for anything wrong in it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{op}: no file {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{op}: {path} is a folder, not a saved state")
    text, arrays = _read_arrays(path, op)
    if text is None:  # a plain np.savez archive: a flat dict of arrays, in file order
        return {"kind": "state"}, arrays

    def corrupt(what: str) -> ValueError:
        return ValueError(f"{op}: {path} is not a readable saved state: {what}")

    try:
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise corrupt(f"its {STRUCTURE} is not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise corrupt(f"its {STRUCTURE} does not describe an {FORMAT!r} file")
    if document.get("version") != VERSION:
        raise corrupt(f"format version {document.get('version')!r}; this code reads {VERSION}")
    used: set[str] = set()
    try:
        state = _decode(document.get("state"), arrays, used)
    except _Corrupt as error:
        raise corrupt(str(error)) from None
    if used != arrays.keys():
        raise corrupt(f"array entries {sorted(arrays.keys() - used)} belong to nothing")
    return document, state


def _load_into(obj: Any, state: Any, strict: bool) -> None:
    """``obj.load_state_dict(state)``, passing `strict` when it takes one (modules do;
    optimizers and schedulers, as in PyTorch, do not)."""
    try:
        takes_strict = "strict" in inspect.signature(obj.load_state_dict).parameters
    except (TypeError, ValueError):  # no signature to read
        takes_strict = False
    if takes_strict:
        obj.load_state_dict(state, strict=strict)
    else:
        obj.load_state_dict(state)


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


def save(model_or_state: Any, path: str | os.PathLike) -> None:
    """Write a model's ``state_dict()`` (or a state dict itself) to `path` (``.npz``),
    atomically: an interrupted save leaves any previous file at `path` as it was."""
    if callable(getattr(model_or_state, "state_dict", None)):
        state = model_or_state.state_dict()
    elif isinstance(model_or_state, Mapping):
        state = model_or_state
    else:
        raise TypeError(
            f"save: expected a model (with state_dict()) or a state dict, got "
            f"{type(model_or_state).__name__}"
        )
    _write_state(path, {"kind": "state"}, dict(state), "save")


def load_state(path: str | os.PathLike) -> Any:
    """The state saved at `path` by `save`, as saved: dicts, lists, tuples, arrays, numbers.

    A plain ``np.savez`` archive of arrays loads as a dict of them (e.g. weights exported from
    PyTorch with ``{k: v.numpy() for k, v in model.state_dict().items()}``).
    """
    header, state = _read_state(path, "load_state")
    return state


def load(model: Any, path: str | os.PathLike, strict: bool = True) -> Any:
    """Load the state saved at `path` into `model` (its ``load_state_dict``) and return
    `model`. Every name, shape and dtype is checked first; on any problem the model is left
    as it was and one error lists every mismatch."""
    header, state = _read_state(path, "load")
    if header.get("kind") == "checkpoint":
        raise ValueError(
            f"load: {path} is a checkpoint; use load_checkpoint({str(path)!r}, model=...)"
        )
    try:
        _load_into(model, state, strict)
    except ValueError as error:
        raise ValueError(f"load: {path} does not fit the model: {error}") from None
    return model


# --------------------------------------------------------------------------------------------
# Checkpoints: whole training states
# --------------------------------------------------------------------------------------------


def save_checkpoint(
    path: str | os.PathLike,
    *,
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int | None = None,
    **extra: Any,
) -> None:
    """Save a training state in one file, atomically: the ``state_dict()`` of `model`,
    `optimizer`, `scheduler` and of any other keyword argument that has one (an EMA model, a
    second optimizer...), and every plain value (`epoch`, a best loss, a history list...).

    >>> import os, tempfile
    >>> from nn import Linear, load_checkpoint, save_checkpoint
    >>> path = os.path.join(tempfile.mkdtemp(), "run.npz")
    >>> save_checkpoint(path, model=Linear(2, 1, rng=0), epoch=3, history=[0.9, 0.5])
    >>> checkpoint = load_checkpoint(path, model=Linear(2, 1, rng=1))
    >>> checkpoint["epoch"], checkpoint["history"], sorted(checkpoint["model"])
    (3, [0.9, 0.5], ['bias', 'weight'])
    """
    entries = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "epoch": epoch}
    entries = {name: obj for name, obj in entries.items() if obj is not None}
    entries.update(extra)
    content, objects = {}, []
    for name, obj in entries.items():
        if callable(getattr(obj, "state_dict", None)):
            content[name] = obj.state_dict()
            objects.append(name)
        else:
            content[name] = obj
    _write_state(path, {"kind": "checkpoint", "objects": objects}, content, "save_checkpoint")


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    strict: bool = True,
    **objects: Any,
) -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint` into the objects passed (each by its
    ``load_state_dict``; `strict` goes to those that take it) and return everything the
    checkpoint holds, by name: states and values.

    Either every object is loaded or none is: if one fails, those loaded before it get their
    previous state back, and the error is raised.
    """
    header, content = _read_state(path, "load_checkpoint")
    if header.get("kind") != "checkpoint" or not isinstance(content, dict):
        raise ValueError(
            f"load_checkpoint: {path} is not a checkpoint (save_checkpoint writes those; a "
            "file written by save() loads with load())"
        )
    saved = header.get("objects", [])
    targets = {"model": model, "optimizer": optimizer, "scheduler": scheduler, **objects}
    targets = {name: obj for name, obj in targets.items() if obj is not None}
    absent = [name for name in targets if name not in saved or name not in content]
    if absent:
        raise KeyError(
            f"load_checkpoint: {path} holds no state for {', '.join(absent)}; it holds states "
            f"for {', '.join(saved) or 'nothing'}"
        )
    for name, obj in targets.items():
        if not callable(getattr(obj, "load_state_dict", None)):
            raise TypeError(f"load_checkpoint: {name} has no load_state_dict()")
    loaded: list[tuple[Any, Any]] = []
    try:
        for name, obj in targets.items():
            before = obj.state_dict()
            _load_into(obj, content[name], strict)
            loaded.append((obj, before))
    except BaseException:
        for obj, before in reversed(loaded):
            obj.load_state_dict(before)
        raise
    return content
