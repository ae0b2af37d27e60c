"""Model and checkpoint files: round trips, readability by safetensors and PyTorch, clear errors for bad
files, and atomic writes that survive failures and SIGKILL."""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import safetensors.numpy

import elman
from elman import files


def trained_like(rng, **kwargs):
    """A model whose weights differ from its seed's, so a load that re-initialised would show."""
    m = elman.RNN(3, 5, 2, seed=7, **kwargs)
    m.params.flat[:] = rng.normal(size=m.num_params)
    return m


def model_file(tmp_path, rng, **kwargs):
    m = trained_like(rng, **kwargs)
    path = tmp_path / "model.safetensors"
    m.save(path)
    return m, path


def temp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# --- round trips -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, False), (1, True), (2, True)])
def test_model_round_trip(tmp_path, rng, dtype, layers, bidirectional):
    m = trained_like(
        rng,
        num_layers=layers,
        bidirectional=bidirectional,
        dtype=dtype,
        nonlinearity="relu",
        batch_first=True,
        dropout=0.25,
        init="orthogonal",
    )
    path = tmp_path / "model.safetensors"
    m.save(path)
    loaded = elman.load(path)

    assert loaded.config == m.config
    assert loaded.dtype == m.dtype and loaded.metadata == {}
    assert list(loaded.params) == list(m.params)
    for name in m.params:
        assert loaded.params[name].dtype == m.dtype
        np.testing.assert_array_equal(loaded.params[name], m.params[name], strict=True)
    x = rng.normal(size=(4, 6, 3))
    for got, expected in zip(loaded.forward(x), m.forward(x)):
        np.testing.assert_array_equal(got, expected, strict=True)

    stored = safetensors.numpy.load_file(path)
    assert sorted(stored) == sorted(m.params)
    for name, value in stored.items():
        np.testing.assert_array_equal(value, m.params[name], strict=True)


def test_model_file_loads_in_pytorch(tmp_path, rng):
    torch = pytest.importorskip("torch")
    import safetensors.torch

    m, path = model_file(tmp_path, rng, num_layers=2, bidirectional=True, dtype="float64")
    stored = safetensors.torch.load_file(path)
    assert sorted(stored) == sorted(m.params)
    for name, value in stored.items():
        assert value.dtype == torch.float64
        np.testing.assert_array_equal(value.numpy(), m.params[name], strict=True)


def test_header_holds_config_and_format(tmp_path, rng):
    m, path = model_file(tmp_path, rng)
    header = files.read_metadata(path)
    assert header == {
        "elman.config": json.dumps(m.config),
        "elman.format": "2",
        "elman.checksum": files.checksum(header, m.params),
    }
    assert re.fullmatch("crc32c:[0-9a-f]{8}", header["elman.checksum"])


def test_user_metadata_round_trip(tmp_path, rng):
    m = trained_like(rng)
    path = tmp_path / "model.safetensors"
    user = {"vocab": json.dumps(list("abc\n")), "note": "héllo, wörld", "": "empty key"}
    m.save(str(path), metadata=user)
    assert elman.load(path).metadata == user
    header = files.read_metadata(path)
    assert {k: v for k, v in header.items() if not k.startswith("elman.")} == user
    assert header["elman.format"] == "2"


@pytest.mark.parametrize(
    "metadata, error, match",
    [
        ({"elman.config": "{}"}, ValueError, r"metadata key 'elman.config' starts with 'elman.', which elman reserves"),
        ({"elman.vocab": "x"}, ValueError, r"'elman.vocab' starts with 'elman.'"),
        ({"steps": 10}, TypeError, r"metadata\['steps'\] is 10 \(int\); expected a str"),
        ({"vocab": ["a", "b"]}, TypeError, r"metadata\['vocab'\] is \['a', 'b'\] \(list\); expected a str"),
        ({1: "x"}, TypeError, r"metadata key 1 is a int; expected a str"),
        ([("a", "b")], TypeError, r"metadata is a list; expected a dict of str -> str"),
    ],
)
def test_bad_user_metadata_is_rejected_before_writing(tmp_path, rng, metadata, error, match):
    path = tmp_path / "model.safetensors"
    with pytest.raises(error, match=match):
        trained_like(rng).save(path, metadata=metadata)
    assert list(tmp_path.iterdir()) == []


def test_non_finite_model_is_not_saved(tmp_path, rng):
    m = trained_like(rng)
    m.params["W_hh_l0"][1, 2] = np.nan
    with pytest.raises(ValueError, match="W_hh_l0 holds non-finite values; a model file must hold finite weights"):
        m.save(tmp_path / "model.safetensors")
    assert list(tmp_path.iterdir()) == []


# --- bad files -----------------------------------------------------------------------------------------


def rewrite(path, *, tensors=None, drop=(), **header):
    """Writes the model file at `path` again with changed tensors and metadata (None deletes a key),
    with a checksum that matches the new contents: a well-formed file that lies about the model."""
    stored = safetensors.numpy.load_file(path)
    stored.update(tensors or {})
    for name in drop:
        del stored[name]
    metadata = files.read_metadata(path)
    metadata.update(header)
    metadata = {k: v for k, v in metadata.items() if v is not None}
    metadata["elman.checksum"] = files.checksum(metadata, stored)
    safetensors.numpy.save_file(stored, path, metadata=metadata)


def truncated(path, m):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def random_bytes(path, m):
    path.write_bytes(np.random.default_rng(5).bytes(2000))


def empty(path, m):
    path.write_bytes(b"")


def foreign(path, m):
    safetensors.numpy.save_file({"weight": np.ones((2, 2), np.float32)}, path, metadata={"framework": "other"})


def foreign_without_metadata(path, m):
    safetensors.numpy.save_file({"weight": np.ones((2, 2), np.float32)}, path)


def newer_format(path, m):
    rewrite(path, **{"elman.format": "3"})


def garbled_format(path, m):
    rewrite(path, **{"elman.format": "one"})


def without_config(path, m):
    rewrite(path, **{"elman.config": None})


def config_not_json(path, m):
    rewrite(path, **{"elman.config": "{input_size: 3"})


def config_not_a_model(path, m):
    rewrite(path, **{"elman.config": json.dumps({**m.config, "hidden_size": 0})})


def wrong_shape(path, m):
    rewrite(path, tensors={"W_hh_l0": np.zeros((5, 4), np.float32)})


def missing_tensor(path, m):
    rewrite(path, drop=["b_y"])


def extra_tensor(path, m):
    rewrite(path, tensors={"W_zz": np.zeros(2, np.float32)})


def wrong_dtype(path, m):
    rewrite(path, tensors={"W_hy": m.params["W_hy"].astype(np.float64)})


def non_finite(path, m):
    rewrite(path, tensors={"b_h_l0": np.array([0, 0, np.inf, 0, 0], np.float32)})


def a_checkpoint(path, m):
    files.save_checkpoint(path, dict(m.params), {"step": 3})


@pytest.mark.parametrize(
    "spoil, match",
    [
        (truncated, r" is not a readable safetensors file \(.*\); it may be truncated or corrupted"),
        (random_bytes, r" is not a readable safetensors file \(.*\); it may be truncated or corrupted"),
        (empty, r" is not a readable safetensors file \(.*header too small\); it may be truncated or corrupted"),
        (
            foreign,
            r" is a safetensors file but not an elman file: its metadata has no 'elman.format' "
            r"\(keys: 'framework'\); expected 'elman.config' and 'elman.format'",
        ),
        (
            foreign_without_metadata,
            r" is a safetensors file but not an elman file: its metadata has no "
            r"'elman.format' \(keys: none\)",
        ),
        (newer_format, r" was written by format 3; this elman reads formats 1 to 2. Upgrade elman to read it"),
        (garbled_format, r": elman.format is 'one'; expected a positive integer"),
        (without_config, r" has no 'elman.config' in its metadata; expected an elman model file"),
        (config_not_json, r": elman.config is not valid JSON"),
        (
            config_not_a_model,
            r": elman.config does not describe a model "
            r"\(hidden_size is 0; expected an integer >= 1\)",
        ),
        (wrong_shape, r": tensor W_hh_l0 has shape \(5, 4\); expected \(5, 5\)"),
        (missing_tensor, r" lacks tensor\(s\) b_y; expected W_xh_l0, W_hh_l0, b_h_l0, W_hy, b_y for its elman.config"),
        (extra_tensor, r" has unexpected tensor\(s\) W_zz; expected W_xh_l0, W_hh_l0, b_h_l0, W_hy, b_y"),
        (wrong_dtype, r": tensor W_hy has dtype F64; expected F32 \(float32, the dtype in elman.config\)"),
        (non_finite, r": tensor b_h_l0 holds non-finite values; expected finite weights"),
        (a_checkpoint, r" is an elman checkpoint, not a model file; read it with load_checkpoint"),
    ],
)
def test_bad_model_file_raises_clear_error(tmp_path, rng, spoil, match):
    m, path = model_file(tmp_path, rng)
    spoil(path, m)
    with pytest.raises(ValueError, match=re.escape(str(path)) + match):
        elman.load(path)


def test_every_flipped_bit_is_an_error(tmp_path, rng):
    """A one-bit change at any byte of a model file (length, header, metadata, tensor data) never loads;
    the bit flipped cycles with the position."""
    m = elman.RNN(2, 3, 2, seed=1)
    path = tmp_path / "model.safetensors"
    m.save(path, metadata={"vocab": "ab"})
    data = bytearray(path.read_bytes())
    loaded = []
    for i in range(len(data)):
        data[i] ^= 1 << i % 8
        path.write_bytes(data)
        data[i] ^= 1 << i % 8
        try:
            elman.load(path)
            loaded.append(i)
        except ValueError as e:
            assert str(path) in str(e)
    assert loaded == []


def test_damaged_tensor_data_is_named(tmp_path, rng):
    m, path = model_file(tmp_path, rng)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x10  # inside b_y's last float
    path.write_bytes(data)
    damaged = r" is damaged: its elman.checksum is 'crc32c:[0-9a-f]{8}' but its contents give 'crc32c:[0-9a-f]{8}'"
    with pytest.raises(ValueError, match=re.escape(str(path)) + damaged):
        elman.load(path)


def test_format_1_files_still_load(tmp_path, rng):
    """A file as elman 0.1 wrote it: format 1, no checksum."""
    m = trained_like(rng, num_layers=2)
    path = tmp_path / "old.safetensors"
    header = {"vocab": "abc", "elman.config": json.dumps(m.config), "elman.format": "1"}
    safetensors.numpy.save_file(dict(m.params), path, metadata=header)
    loaded = elman.load(path)
    np.testing.assert_array_equal(loaded.params.flat, m.params.flat, strict=True)
    assert loaded.metadata == {"vocab": "abc"}
    safetensors.numpy.save_file(
        {"a": np.ones(3)}, path, metadata={"elman.checkpoint": '{"step": 1}', "elman.format": "1"}
    )
    assert files.load_checkpoint(path)[1] == {"step": 1}


def test_format_2_without_checksum(tmp_path, rng):
    m, path = model_file(tmp_path, rng)
    stored = safetensors.numpy.load_file(path)
    header = {k: v for k, v in files.read_metadata(path).items() if k != "elman.checksum"}
    safetensors.numpy.save_file(stored, path, metadata=header)
    with pytest.raises(ValueError, match=re.escape(str(path)) + r" has no 'elman.checksum' in its metadata; format 2"):
        elman.load(path)


def test_damaged_checkpoint(tmp_path):
    path = tmp_path / "c"
    files.save_checkpoint(path, {"a": np.arange(100.0)}, {"step": 1})
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"c is damaged: its elman.checksum"):
        files.load_checkpoint(path)
    files.save_checkpoint(path, {"a": np.arange(100.0)}, {"step": 1})
    rewrite_state = files.read_metadata(path) | {"elman.checkpoint": '{"step": 2}'}
    safetensors.numpy.save_file(safetensors.numpy.load_file(path), path, metadata=rewrite_state)
    with pytest.raises(ValueError, match=r"c is damaged"):
        files.load_checkpoint(path)


def test_missing_path_and_folder(tmp_path):
    missing = tmp_path / "nope.safetensors"
    for read in (elman.load, files.read_metadata, files.load_checkpoint):
        with pytest.raises(FileNotFoundError, match=re.escape(str(missing))) as info:
            read(missing)
        assert info.value.filename == str(missing)
        with pytest.raises(IsADirectoryError, match="expected a safetensors file"):
            read(tmp_path)
    with pytest.raises(TypeError, match=r"path is 3 \(int\); expected a str or os.PathLike"):
        elman.load(3)


def test_read_metadata_of_any_safetensors_file(tmp_path):
    path = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"w": np.ones(2)}, path, metadata={"a": "b"})
    assert files.read_metadata(path) == {"a": "b"}
    safetensors.numpy.save_file({"w": np.ones(2)}, path)
    assert files.read_metadata(path) == {}
    path.write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match="is not a readable safetensors file"):
        files.read_metadata(path)


# --- checkpoints ---------------------------------------------------------------------------------------


def test_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    tensors = {
        "params": rng.normal(size=1000),
        "adam.m": rng.normal(size=(10, 7)).astype(np.float32),
        "strided": np.arange(24.0).reshape(4, 6)[:, ::2],  # not contiguous: must be stored as seen
        "big_endian": np.arange(5, dtype=">i4"),
        "scalar": np.asarray(2.5),
        "empty": np.zeros((0, 3), np.int64),
        "mask": np.array([True, False]),
        "rng_words": np.array([2**64 - 1, 0, 12345], np.uint64),
        "half": np.array([1.5, -2.0], np.float16),
    }
    state = {
        "step": 1234,
        "rng": [2**64 - 1, 2**63, 0],
        "lr": 0.1 + 0.2,
        "best": float("inf"),
        "name": "ünïcode",
        "nested": {"a": [1, 2.5, None, True]},
    }
    path = tmp_path / "run.ckpt"
    files.save_checkpoint(path, tensors, state)
    got, got_state = files.load_checkpoint(path)
    assert got_state == state
    assert sorted(got) == sorted(tensors)
    for name, value in tensors.items():
        np.testing.assert_array_equal(got[name], value)
        assert got[name].shape == value.shape and got[name].dtype == value.dtype.newbyteorder("=")
        assert got[name].flags.writeable
    assert files.read_metadata(path)["elman.format"] == "2"


def test_checkpoint_of_a_model_and_an_optimizer_state(tmp_path, rng):
    m = trained_like(rng, dtype="float64")
    tensors = {f"model.{k}": v for k, v in m.params.items()} | {"opt.m": np.zeros(m.num_params)}
    state = {"config": m.config, "model_rng": m.get_rng_state(), "data": {"epoch": 2, "offset": 77}}
    files.save_checkpoint(tmp_path / "c", tensors, state)
    got, got_state = files.load_checkpoint(tmp_path / "c")
    twin = elman.RNN(**got_state["config"])
    for name in twin.params:
        twin.params[name] = got[f"model.{name}"]
    np.testing.assert_array_equal(twin.params.flat, m.params.flat, strict=True)
    assert got_state == state


@pytest.mark.parametrize(
    "tensors, state, error, match",
    [
        ({"a": np.zeros(2)}, [1, 2], TypeError, r"state is a list; expected a dict"),
        ({"a": np.zeros(2)}, {"f": print}, TypeError, r"state cannot be written as JSON \(.*\); expected a dict of"),
        ({"a": np.zeros(2, np.complex128)}, {}, TypeError, r"tensor a has dtype complex128; expected one of bool, "),
        ({"a": np.array(["x"])}, {}, TypeError, r"tensor a has dtype <U1; expected one of"),
        ({"__metadata__": np.zeros(2)}, {}, ValueError, r"tensor name '__metadata__' is not allowed"),
        ({3: np.zeros(2)}, {}, ValueError, r"tensor name 3 is not allowed; expected a non-empty str"),
        ([np.zeros(2)], {}, TypeError, r"tensors is a list; expected a dict of name -> numpy array"),
    ],
)
def test_bad_checkpoint_arguments(tmp_path, tensors, state, error, match):
    with pytest.raises(error, match=match):
        files.save_checkpoint(tmp_path / "c", tensors, state)
    assert list(tmp_path.iterdir()) == []


def test_bad_checkpoint_files(tmp_path, rng):
    path = tmp_path / "c"
    files.save_checkpoint(path, {"a": np.ones(1000)}, {"step": 1})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"c is not a readable safetensors file \(.*\); it may be truncated"):
        files.load_checkpoint(path)

    safetensors.numpy.save_file({"a": np.ones(2)}, path, metadata={"elman.format": "7", "elman.checkpoint": "{}"})
    with pytest.raises(ValueError, match=r"was written by format 7; this elman reads formats 1 to 2"):
        files.load_checkpoint(path)

    safetensors.numpy.save_file({"a": np.ones(2)}, path, metadata={"elman.format": "1", "elman.checkpoint": "[1]"})
    with pytest.raises(ValueError, match=r": elman.checkpoint holds a list; expected a JSON object"):
        files.load_checkpoint(path)

    foreign(path, None)
    with pytest.raises(ValueError, match=r"is a safetensors file but not an elman file"):
        files.load_checkpoint(path)

    trained_like(rng).save(path)
    with pytest.raises(ValueError, match=r"is an elman model file, not a checkpoint; read it with elman.load"):
        files.load_checkpoint(path)


# --- atomic writes -----------------------------------------------------------------------------------


def fail(*args):
    raise OSError("disk on fire")


@pytest.mark.parametrize("broken", ["replace", "fsync"])
def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch, broken):
    path = tmp_path / "data.bin"
    files.atomic_write(path, b"old contents")
    monkeypatch.setattr(os, broken, fail)
    with pytest.raises(OSError, match="disk on fire"):
        files.atomic_write(path, b"new contents that never land")
    with pytest.raises(OSError, match="disk on fire"):
        files.atomic_write(tmp_path / "fresh.bin", b"never lands")
    monkeypatch.undo()
    assert path.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_failed_model_save_keeps_old_model(tmp_path, rng, monkeypatch):
    m, path = model_file(tmp_path, rng)
    before = path.read_bytes()
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk on fire"):
        trained_like(rng).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []
    np.testing.assert_array_equal(elman.load(path).params.flat, m.params.flat)


def test_atomic_write_replaces_and_accepts_bytes_likes(tmp_path):
    path = tmp_path / "f"
    files.atomic_write(str(path), b"one")
    files.atomic_write(path, bytearray(b"two"))
    files.atomic_write(path, memoryview(b"three"))
    assert path.read_bytes() == b"three"
    assert os.listdir(tmp_path) == ["f"]
    with pytest.raises(TypeError, match="data is a str; expected bytes"):
        files.atomic_write(path, "text")
    with pytest.raises(FileNotFoundError):
        files.atomic_write(tmp_path / "no_such_folder" / "f", b"x")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and symlinks")
def test_atomic_write_respects_umask_and_follows_symlinks(tmp_path):
    old = os.umask(0o027)
    try:
        files.atomic_write(tmp_path / "f", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o640

    (tmp_path / "link").symlink_to("f")
    files.atomic_write(tmp_path / "link", b"through the link")
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "f").read_bytes() == b"through the link"


# The child saves two versions of a checkpoint in turn, forever; both sides build them from this code.
VERSIONS = """
import numpy as np
import elman

def version(v):
    m = elman.RNN(64, 384, 64, dtype="float64", seed=v)  # about 200k parameters: 1.6 MB per tensor
    rng = np.random.default_rng(v)
    tensors = {"params": m.params.flat.copy(), "adam.m": rng.normal(size=m.num_params),
               "adam.v": rng.random(m.num_params)}
    return tensors, {"version": v, "step": 1000 * (v + 1), "rng": m.get_rng_state()}
"""

CHILD = (
    VERSIONS
    + """
import sys
from elman.files import save_checkpoint

path = sys.argv[1]
versions = [version(0), version(1)]
i = 0
while True:
    save_checkpoint(path, *versions[i % 2])
    if i == 0:
        print("saved", flush=True)
    i += 1
"""
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_saves_leaves_a_whole_checkpoint(tmp_path):
    namespace = {}
    exec(VERSIONS, namespace)
    versions = [namespace["version"](0), namespace["version"](1)]
    path = tmp_path / "train.ckpt"
    rng = np.random.default_rng(11)
    deadline = time.monotonic() + 8.0
    for run in range(8):
        if run >= 3 and time.monotonic() > deadline:
            break
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True)
        try:
            ready, _, _ = select.select([child.stdout], [], [], 20.0)
            assert ready and child.stdout.readline() == "saved\n", "the child did not save a checkpoint"
            time.sleep(rng.uniform(0.0, 0.08))  # somewhere inside one of the next saves
        finally:
            child.kill()
            child.wait(timeout=10)
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL

        tensors, state = files.load_checkpoint(path)
        expected_tensors, expected_state = versions[state["version"]]
        assert state == expected_state
        assert sorted(tensors) == sorted(expected_tensors)
        for name, value in tensors.items():
            np.testing.assert_array_equal(value, expected_tensors[name], strict=True)
        # a killed save may leave its temporary file, named so that it is never taken for the checkpoint
        for name in os.listdir(tmp_path):
            assert name == path.name or re.fullmatch(r"\.train\.ckpt\.[0-9a-f]{16}\.tmp", name), name

    files.save_checkpoint(path, *versions[1])
    assert files.load_checkpoint(path)[1] == versions[1][1]
