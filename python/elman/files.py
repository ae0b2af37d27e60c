"""Model and checkpoint files: safetensors, written atomically.

A model file holds each parameter under its name (in the model's dtype) and, in the header's metadata,
"elman.config" (the JSON of RNN.config), "elman.format", "elman.checksum" and the user's own str -> str
entries. This module knows the format, not the model: elman.RNN.save and elman.load call write_model and
read_model. A checkpoint file holds any named arrays and one JSON state under "elman.checkpoint". Keys
starting with "elman." are ours; everything else in the metadata belongs to the user.

Format 2 adds "elman.checksum": "crc32c:" and 8 hex digits, the CRC-32C (Castagnoli) of, in order,
  - every other metadata entry, sorted by key: key, NUL, value, NUL (UTF-8);
  - every tensor, sorted by name: name, NUL, safetensors dtype code ("F32"), NUL, the dimensions joined
    by "," (none for a scalar), NUL, then the tensor's bytes (little-endian, row-major).
It is computed from the parsed header and the tensors, not from the header's bytes, so any JSON writer
produces a file that verifies; a change to any value, name, shape, offset or data byte does not.
cpp/include/elman/files.hpp computes the same. Format 1 files (no checksum) still load.

Writes go to a temporary file ".<name>.<random hex>.tmp" in the target's folder, which is fsynced and
then renamed over the target, so a reader (or a crash) sees the old file or the new one, never a mix.
A killed process can leave such a temporary file behind; it never matches the target's name.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

import crc32c
import numpy as np
import safetensors.numpy
from safetensors import SafetensorError, safe_open

from ._validate import shape_str
from .params import layout

FORMAT = 2
FIRST_CHECKSUM_FORMAT = 2
FORMAT_KEY = "elman.format"
CONFIG_KEY = "elman.config"
CHECKPOINT_KEY = "elman.checkpoint"
CHECKSUM_KEY = "elman.checksum"
CHECKSUM_PREFIX = "crc32c:"
_RESERVED = "elman."

# safetensors' code for every dtype a file may hold (little-endian); a model holds F32 or F64
_CODES = {
    np.dtype(t).newbyteorder("<"): code
    for t, code in (
        (np.bool_, "BOOL"),
        (np.int8, "I8"),
        (np.uint8, "U8"),
        (np.int16, "I16"),
        (np.uint16, "U16"),
        (np.int32, "I32"),
        (np.uint32, "U32"),
        (np.int64, "I64"),
        (np.uint64, "U64"),
        (np.float16, "F16"),
        (np.float32, "F32"),
        (np.float64, "F64"),
    )
}
_MODEL_DTYPES = {name: _CODES[np.dtype(name).newbyteorder("<")] for name in ("float32", "float64")}


def atomic_write(path: str | os.PathLike[str], data: Any) -> None:
    """Replaces the file at `path` with `data` (bytes) so that no reader ever sees a partial file
    (see `replacing`)."""
    try:
        data = memoryview(data)
    except TypeError:
        raise TypeError(f"data is a {type(data).__name__}; expected bytes") from None
    with replacing(path) as temp, open(temp, "wb") as f:
        f.write(data)


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], name: str = "path") -> Iterator[str]:
    """Yields the name of a new, empty temporary file in `path`'s folder for the caller to write;
    `name` is the argument's name in errors.

    When the block ends normally the file is fsynced and renamed onto `path`, and the folder is then
    fsynced so the rename itself survives a power cut. If the block (or any of that) fails, the
    temporary file is removed and the old file, if any, is left as it was. A symlink at `path` is
    followed: its target is replaced, as `open(path, "wb")` would write it.
    """
    target = os.path.realpath(_path(path, name))
    folder, base = os.path.split(target)
    temp, fd = _create_temp(folder, base)
    os.close(fd)
    try:
        yield temp
        fd = os.open(temp, os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows' fsync needs write access
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_folder(folder)


def write_model(
    path: str | os.PathLike[str],
    config: Mapping[str, Any],
    params: Mapping[str, np.ndarray],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Writes a model's parameters and config (RNN.config) to one safetensors file, atomically;
    `metadata` is the user's str -> str dict."""
    header = _user_metadata(metadata)
    tensors = {name: _little_endian(value) for name, value in params.items()}
    for name, value in tensors.items():
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} holds non-finite values; a model file must hold finite weights")
    header[CONFIG_KEY] = json.dumps(dict(config))
    _write(path, tensors, header)


def read_model(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, str]]:
    """Reads a file written by write_model: (config, tensors, the user's metadata).

    The config is checked by the core and every tensor's name, dtype and shape against it before
    any tensor is read, so a lying header costs no memory; the tensors must be finite.
    """
    path = _path(path)
    with _open(path) as f:
        header = _elman_metadata(f, path)
        if CONFIG_KEY not in header:
            if CHECKPOINT_KEY in header:
                raise ValueError(f"{path} is an elman checkpoint, not a model file; read it with load_checkpoint")
            raise ValueError(f"{path} has no {CONFIG_KEY!r} in its metadata; expected an elman model file")
        config = _config(header[CONFIG_KEY], path)
        dtype = config.get("dtype")
        if dtype not in _MODEL_DTYPES:
            allowed = " or ".join(map(repr, _MODEL_DTYPES))
            raise ValueError(f"{path}: {CONFIG_KEY} does not describe a model (dtype is {dtype!r}; expected {allowed})")
        try:
            checked, tensors = layout(config)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {CONFIG_KEY} does not describe a model ({e})") from None
        expected = {name: shape for name, shape, _ in tensors}
        code = _MODEL_DTYPES[dtype]
        _check_names(path, list(f.keys()), list(expected))
        for name, shape in expected.items():
            stored = f.get_slice(name)
            if stored.get_dtype() != code:
                raise ValueError(
                    f"{path}: tensor {name} has dtype {stored.get_dtype()}; expected {code} ({dtype}, "
                    f"the dtype in {CONFIG_KEY})"
                )
            if tuple(stored.get_shape()) != shape:
                raise ValueError(
                    f"{path}: tensor {name} has shape {shape_str(stored.get_shape())}; expected {shape_str(shape)}"
                )
        values = {name: _tensor(f, name, path) for name in expected}
        _verify(path, header, values)
        for name, value in values.items():
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{path}: tensor {name} holds non-finite values; expected finite weights")
    user = {k: v for k, v in header.items() if not k.startswith(_RESERVED)}
    return {**checked, "dtype": dtype}, values, user


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The whole metadata of a safetensors file (elman's keys and the user's), without its tensors."""
    path = _path(path)
    with _open(path) as f:
        return dict(f.metadata() or {})


def save_checkpoint(path: str | os.PathLike[str], tensors: Mapping[str, np.ndarray], state: dict[str, Any]) -> None:
    """Writes named arrays and a JSON-serializable `state` dict to one safetensors file, atomically.

    `state` goes through json: tuples come back as lists and dict keys as strings; floats (including
    inf and nan, which Python's json writes as Infinity and NaN) and integers of any size come back exact.
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors is a {type(tensors).__name__}; expected a dict of name -> numpy array")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"tensor name {name!r} is not allowed; expected a non-empty str other than '__metadata__'")
        array = np.asarray(value)
        if array.dtype.newbyteorder("<") not in _CODES:
            expected = ", ".join(d.name for d in _CODES)
            raise TypeError(f"tensor {name} has dtype {array.dtype}; expected one of {expected}")
        arrays[name] = _little_endian(array)
    if not isinstance(state, dict):
        raise TypeError(f"state is a {type(state).__name__}; expected a dict")
    try:
        text = json.dumps(state)
    except (TypeError, ValueError) as e:
        raise TypeError(f"state cannot be written as JSON ({e}); expected a dict of JSON values") from None
    _write(path, arrays, {CHECKPOINT_KEY: text})


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Reads a file written by save_checkpoint: (tensors, state), the arrays being fresh writable copies."""
    path = _path(path)
    with _open(path) as f:
        header = _elman_metadata(f, path)
        if CHECKPOINT_KEY not in header:
            if CONFIG_KEY in header:
                raise ValueError(f"{path} is an elman model file, not a checkpoint; read it with elman.load")
            raise ValueError(f"{path} has no {CHECKPOINT_KEY!r} in its metadata; expected an elman checkpoint")
        try:
            state = json.loads(header[CHECKPOINT_KEY])
        except ValueError as e:
            raise ValueError(f"{path}: {CHECKPOINT_KEY} is not valid JSON ({e})") from None
        if not isinstance(state, dict):
            raise ValueError(f"{path}: {CHECKPOINT_KEY} holds a {type(state).__name__}; expected a JSON object")
        tensors = {name: _tensor(f, name, path) for name in f.keys()}
        _verify(path, header, tensors)
    return tensors, state


def checksum(metadata: Mapping[str, str], tensors: Mapping[str, np.ndarray]) -> str:
    """The "elman.checksum" value of a file holding `metadata` (its own checksum entry, if any, is
    skipped) and `tensors` (see the module's docstring for what it covers)."""
    crc = 0
    for key in sorted(metadata):
        if key != CHECKSUM_KEY:
            crc = crc32c.crc32c(key.encode() + b"\0" + metadata[key].encode() + b"\0", crc)
    for name in sorted(tensors):
        array = _little_endian(tensors[name])
        dims = ",".join(map(str, array.shape))
        crc = crc32c.crc32c(f"{name}\0{_CODES[array.dtype]}\0{dims}\0".encode(), crc)
        crc = crc32c.crc32c(array.reshape(-1).view(np.uint8).data, crc)
    return f"{CHECKSUM_PREFIX}{crc:08x}"


def _write(path: str | os.PathLike[str], tensors: dict[str, np.ndarray], header: dict[str, str]) -> None:
    """One safetensors file of `tensors` (little-endian, C order) and `header`, with the format and
    the checksum added, written atomically."""
    header[FORMAT_KEY] = str(FORMAT)
    header[CHECKSUM_KEY] = checksum(header, tensors)
    atomic_write(path, safetensors.numpy.save(tensors, metadata=header))


def _verify(path: str, header: Mapping[str, str], tensors: Mapping[str, np.ndarray]) -> None:
    """Checks a file's checksum against what was read from it; files before format 2 have none."""
    if int(header[FORMAT_KEY]) < FIRST_CHECKSUM_FORMAT:
        return
    stored = header.get(CHECKSUM_KEY)
    if stored is None:
        raise ValueError(f"{path} has no {CHECKSUM_KEY!r} in its metadata; format {header[FORMAT_KEY]} files carry one")
    try:
        actual = checksum(header, tensors)
    except UnicodeEncodeError:
        raise ValueError(f"{path} holds metadata that is not valid UTF-8; it may be corrupted") from None
    if stored != actual:
        raise ValueError(
            f"{path} is damaged: its {CHECKSUM_KEY} is {stored!r} but its contents give {actual!r} "
            f"(a changed byte in its tensors or metadata)"
        )


def _little_endian(array: Any) -> np.ndarray:
    array = np.asarray(array)
    return array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)


def _path(path: Any, name: str = "path") -> str:
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError(f"{name} is {path!r} ({type(path).__name__}); expected a str or os.PathLike") from None


def _create_temp(folder: str, name: str) -> tuple[str, int]:
    """A new file next to the target, named so it is never taken for it. Mode 0o666 lets the umask
    decide the permissions, as for any new file (mkstemp would force 0o600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temp = os.path.join(folder, f".{name}.{secrets.token_hex(8)}.tmp")
        try:
            return temp, os.open(temp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "could not create a unique temporary file", os.path.join(folder, name))


def _fsync_folder(folder: str) -> None:
    if os.name == "nt":  # Windows cannot open a folder as a file; its renames are journaled with the file
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _open(path: str) -> Iterator[safe_open]:
    """safe_open with errors that name the file. The file is mapped once, so everything read inside
    one `with` comes from one version of it even if it is replaced meanwhile."""
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "Is a folder; expected a safetensors file", path)
    try:
        f = safe_open(path, framework="numpy")
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "No such file", path) from None
    except SafetensorError as e:
        raise ValueError(f"{path} is not a readable safetensors file ({e}); it may be truncated or corrupted") from None
    with f:
        yield f


def _elman_metadata(f: safe_open, path: str) -> dict[str, str]:
    """The metadata of an elman file, after checking it is one and of a format this version reads."""
    header = dict(f.metadata() or {})
    if FORMAT_KEY not in header:
        raise ValueError(
            f"{path} is a safetensors file but not an elman file: its metadata has no {FORMAT_KEY!r} "
            f"(keys: {', '.join(map(repr, header)) or 'none'}); expected {CONFIG_KEY!r} and {FORMAT_KEY!r}"
        )
    text = header[FORMAT_KEY]
    version = int(text) if text.isascii() and text.isdigit() else None
    if version is None or version < 1:
        raise ValueError(f"{path}: {FORMAT_KEY} is {text!r}; expected a positive integer")
    if version > FORMAT:
        raise ValueError(
            f"{path} was written by format {version}; this elman reads formats 1 to {FORMAT}. Upgrade elman to read it"
        )
    return header


def _config(text: str, path: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except ValueError as e:
        raise ValueError(f"{path}: {CONFIG_KEY} is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path}: {CONFIG_KEY} holds a {type(config).__name__}; expected a JSON object")
    return config


def _check_names(path: str, found: list[str], expected: list[str]) -> None:
    missing = [n for n in expected if n not in found]
    extra = sorted(n for n in found if n not in expected)
    if missing:
        raise ValueError(
            f"{path} lacks tensor(s) {', '.join(missing)}; expected {', '.join(expected)} for its {CONFIG_KEY}"
        )
    if extra:
        raise ValueError(
            f"{path} has unexpected tensor(s) {', '.join(extra)}; expected {', '.join(expected)} for its {CONFIG_KEY}"
        )


def _tensor(f: safe_open, name: str, path: str) -> np.ndarray:
    try:
        return f.get_tensor(name)
    except (SafetensorError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: tensor {name} cannot be read as a numpy array ({e})") from None


def _user_metadata(metadata: Any) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata is a {type(metadata).__name__}; expected a dict of str -> str")
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise TypeError(f"metadata key {key!r} is a {type(key).__name__}; expected a str")
        if not isinstance(value, str):
            raise TypeError(
                f"metadata[{key!r}] is {value!r} ({type(value).__name__}); expected a str (json.dumps it first)"
            )
        if key.startswith(_RESERVED):
            raise ValueError(f"metadata key {key!r} starts with {_RESERVED!r}, which elman reserves for itself")
    return dict(metadata)
