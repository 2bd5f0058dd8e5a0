"""nn.save / nn.load / nn.load_state / checkpoints: exact round trips, every mismatch reported,
damaged files rejected clearly with the model unchanged, atomic writes, no pickle."""

import json
import math
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nn
from autodiff import Tensor, Value
from nn import (
    MLP,
    Linear,
    Module,
    load,
    load_checkpoint,
    load_state,
    save,
    save_checkpoint,
    tensor_mlp,
)


def same(a, b):
    """Equal in type and value, arrays bit for bit (NaN equals NaN), recursively."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (np.ndarray, np.generic)):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return list(a) == list(b) and all(
            type(k) is type(j) and same(a[k], b[j]) for k, j in zip(a, b)
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def snapshot(model):
    return {name: np.array(p.data).tobytes() for name, p in model.named_parameters()}


def entries(folder):
    return sorted(os.listdir(folder))


# --- exact round trips ------------------------------------------------------------------------


def test_round_trip_is_exact_for_a_value_model(tmp_path):
    model = MLP(2, [16, 16, 1], seed=0)
    for p, x in zip(model.parameters(), np.random.default_rng(0).normal(size=337)):
        p.data = float(x) * 1e-310 if p.label.endswith("b") else float(x) / 3  # subnormals too
    save(model, tmp_path / "mlp.npz")
    other = load(MLP(2, [16, 16, 1], seed=1), tmp_path / "mlp.npz")
    assert [p.data for p in other.parameters()] == [p.data for p in model.parameters()]
    assert all(type(p.data) is float for p in other.parameters())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_exact_for_tensor_models(tmp_path, dtype):
    model = tensor_mlp([3, 5, 2], dtype=dtype, rng=0)
    special = np.array([np.nan, np.inf, -np.inf, -0.0, np.finfo(dtype).tiny / 2], dtype)
    model[0].weight.data = np.concatenate([special, model[0].weight.data.ravel()[5:]]).reshape(5, 3)
    path = tmp_path / "model.npz"
    save(model, path)
    other = load(tensor_mlp([3, 5, 2], dtype=dtype, rng=1), path)
    assert snapshot(other) == snapshot(model)
    assert other[0].weight.dtype == dtype


def test_file_is_an_npz_numpy_reads_without_pickle(tmp_path):
    model = tensor_mlp([2, 3, 1], rng=0)
    save(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert "0.weight" in archive.files and "2.bias" in archive.files
        np.testing.assert_array_equal(archive["0.weight"], model[0].weight.data)
    with zipfile.ZipFile(tmp_path / "m.npz") as archive:
        header = json.loads(archive.read("__structure__.json"))
    assert header["format"] == "autodiff.nn state" and header["version"] == 1


def test_nested_state_with_int_keys_tuples_and_every_leaf_type(tmp_path):
    state = {
        "state": {0: {"momentum_buffer": np.arange(6.0).reshape(2, 3), "step": 7},
                  1: {"momentum_buffer": None, "step": 0}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1],
                          "nesterov": False, "name": "body", "eps": 1e-8}],
        "scalars": (np.float32(2.5), np.int64(-3), np.bool_(True)),
        "specials": [math.nan, math.inf, -math.inf, -0.0, 10**30, ""],
        "arrays": [np.zeros((0, 3)), np.array(4, np.int16), np.array([True, False]),
                   np.asfortranarray(np.arange(6).reshape(2, 3)), np.array([1 + 2j])],
        "empty": [{}, [], ()],
        "odd keys/../": {"a/b": np.ones(1), "a_b": np.ones(2), -5: "negative"},
    }  # fmt: skip
    save(state, tmp_path / "s.npz")
    loaded = load_state(tmp_path / "s.npz")
    assert same(loaded, state)
    assert loaded["arrays"][3].flags.f_contiguous
    assert isinstance(loaded["scalars"][0], np.float32)


leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5)
    | hnp.arrays(
        st.sampled_from([np.float32, np.float64, np.int32, np.uint8, np.bool_]),
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
    )
)
structures = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=4) | st.integers(-3, 3), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=4) | st.integers(), structures, max_size=4))
def test_any_state_round_trips_exactly(state):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.npz"
        save(state, path)
        assert same(load_state(path), state)
        assert entries(folder) == ["state.npz"]


@pytest.mark.parametrize(
    "state, words",
    [
        ({"w": Tensor([1.0])}, ["w is a Tensor", "pass its .data"]),
        ({"a": {"b": [1, {2, 3}]}}, ["a['b'][1] is a set"]),
        ({"opt": {0: {"f": lambda: 0}}}, ["opt[0]['f'] is a function"]),
        ({"a": {1.5: 2}}, ["a has a key 1.5 of type float", "str or int"]),
        ({"a": {True: 2}}, ["key True of type bool"]),
        ({"a": np.array([object()])}, ["a is an array of dtype object"]),
        ({"v": Value(1.0)}, ["v is a Value"]),
    ],
)
def test_anything_else_is_a_type_error_naming_its_key_path(tmp_path, state, words):
    with pytest.raises(TypeError) as info:
        save(state, tmp_path / "bad.npz")
    for word in words:
        assert word in str(info.value)
    assert entries(tmp_path) == []


def test_a_state_that_holds_itself_is_a_type_error(tmp_path):
    loop = {"a": []}
    loop["a"].append(loop)
    with pytest.raises(TypeError, match="contains itself"):
        save(loop, tmp_path / "loop.npz")
    with pytest.raises(TypeError, match="model .with state_dict"):
        save(3, tmp_path / "x.npz")


# --- mismatches -------------------------------------------------------------------------------


def test_loading_a_different_model_lists_every_mismatch_and_changes_nothing(tmp_path):
    save(tensor_mlp([3, 5, 2], rng=0), tmp_path / "a.npz")
    model = tensor_mlp([2, 4, 2, 1], rng=1)
    before = snapshot(model)
    with pytest.raises(ValueError) as info:
        load(model, tmp_path / "a.npz")
    message = str(info.value)
    assert str(tmp_path / "a.npz") in message
    for expected in [
        "size mismatch for 0.weight: shape (5, 3) in the state, (4, 2) in the model",
        "size mismatch for 0.bias: shape (5,) in the state, (4,) in the model",
        "size mismatch for 2.weight: shape (2, 5) in the state, (2, 4) in the model",
        "missing key 4.weight",
        "missing key 4.bias",
    ]:
        assert expected in message
    assert snapshot(model) == before
    save(tensor_mlp([2, 4, 2, 1], dtype=np.float64, rng=0), tmp_path / "f64.npz")
    with pytest.raises(ValueError, match="dtype mismatch for 0.weight: float64 in the state"):
        load(model, tmp_path / "f64.npz")
    assert snapshot(model) == before


def test_load_not_strict(tmp_path):
    save({"0.weight": np.ones((4, 2), np.float32), "extra": np.zeros(1)}, tmp_path / "p.npz")
    model = load(tensor_mlp([2, 4, 1], rng=0), tmp_path / "p.npz", strict=False)
    np.testing.assert_array_equal(model[0].weight.data, np.ones((4, 2)))


# --- damaged files --------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    model = tensor_mlp([4, 8, 3], rng=0)
    path = tmp_path / "model.npz"
    save(model, path)
    return model, path


def test_truncated_files_are_clear_errors_and_leave_the_model_unchanged(saved, tmp_path):
    model, path = saved
    data = path.read_bytes()
    target = tensor_mlp([4, 8, 3], rng=1)
    before = snapshot(target)
    for cut in [0, 1, 30, len(data) // 3, len(data) // 2, len(data) - 22, len(data) - 1]:
        damaged = tmp_path / f"cut{cut}.npz"
        damaged.write_bytes(data[:cut])
        with pytest.raises(ValueError) as info:
            load(target, damaged)
        assert str(damaged) in str(info.value)
        assert "not a readable saved state" in str(info.value)
        assert "truncated" in str(info.value)
        assert snapshot(target) == before


def test_garbage_and_corrupted_files_are_clear_errors(saved, tmp_path):
    model, path = saved
    target = tensor_mlp([4, 8, 3], rng=1)
    before = snapshot(target)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ValueError, match="garbage.npz is not a readable saved state"):
        load(target, garbage)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a complete .npz"):
        load_state(text)
    # one byte flipped inside an array: the zip checksum catches it
    data = bytearray(path.read_bytes())
    at = data.index(b"\x93NUMPY") + 200
    data[at] ^= 0xFF
    flipped = tmp_path / "flipped.npz"
    flipped.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged"):
        load(target, flipped)
    assert snapshot(target) == before


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.mark.parametrize(
    "members, words",
    [
        ({"__structure__.json": b"{not json"}, "not valid JSON"),
        ({"__structure__.json": b'{"format": "other"}'}, "does not describe"),
        ({"__structure__.json": b'{"format": "autodiff.nn state", "version": 99}'}, "version 99"),
        (
            {"__structure__.json": b'{"format": "autodiff.nn state", "version": 1, '
                                   b'"state": {"array": "w"}}'},
            "the array entry 'w' is missing",
        ),
        (
            {"__structure__.json": b'{"format": "autodiff.nn state", "version": 1, '
                                   b'"state": {"pickle": "x"}}'},
            "unknown node type 'pickle'",
        ),
        ({"readme.txt": b"hi"}, "unexpected entry 'readme.txt'"),
        ({"w.npy": b"\x93NUMPY garbage"}, "entry 'w.npy' is not a numpy array"),
    ],
)  # fmt: skip
def test_archives_with_wrong_content_are_clear_errors(tmp_path, members, words):
    path = tmp_path / "odd.npz"
    write_zip(path, members)
    with pytest.raises(ValueError, match=words):
        load_state(path)


def test_pickled_arrays_are_refused_and_never_run(tmp_path):
    ran = []

    class Evil:
        def __reduce__(self):
            return (ran.append, ("pickle ran",))

    path = tmp_path / "evil.npz"
    np.savez(path, w=np.array([Evil()], dtype=object))
    with pytest.raises(ValueError, match="not a numpy array readable without pickle"):
        load_state(path)
    assert ran == []


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        load_state(tmp_path / "none.npz")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_state(tmp_path)
    with pytest.raises(FileNotFoundError, match="folder .* does not exist"):
        save(Linear(1, 1), tmp_path / "no" / "such" / "m.npz")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        save(Linear(1, 1), tmp_path / "file" / "m.npz")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        save(Linear(1, 1), tmp_path)


def test_permission_denied_is_clear(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(PermissionError, match="permission denied in folder"):
        save(Linear(1, 1), tmp_path / "m.npz")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(PermissionError, match="permission denied"):
            save(Linear(1, 1), folder / "m.npz")
    finally:
        folder.chmod(stat.S_IRWXU)


# --- atomic writes ----------------------------------------------------------------------------


@pytest.mark.parametrize("crash", [OSError("disk full"), KeyboardInterrupt()])
def test_a_crash_mid_write_keeps_the_old_file_and_leaves_no_temporary(saved, monkeypatch, crash):
    model, path = saved
    good = path.read_bytes()
    real_write = np.lib.format.write_array
    calls = []

    def write_then_crash(file, array, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first array is written, the second half written, then crash
            file.write(b"\x93NUMPY partial")
            raise crash
        real_write(file, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", write_then_crash)
    with pytest.raises(type(crash)):
        save(tensor_mlp([4, 8, 3], rng=9), path)
    assert len(calls) == 2
    assert path.read_bytes() == good
    assert entries(path.parent) == ["model.npz"]
    monkeypatch.undo()
    restored = load(tensor_mlp([4, 8, 3], rng=1), path)
    assert snapshot(restored) == snapshot(model)


def test_save_flushes_to_disk_before_renaming(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1]
    )
    save(Linear(2, 2), tmp_path / "m.npz")
    assert events[:2] == ["fsync", "replace"]
    assert entries(tmp_path) == ["m.npz"]


def test_saved_file_gets_ordinary_permissions(tmp_path):
    save(Linear(1, 1), tmp_path / "m.npz")
    (tmp_path / "plain").write_bytes(b"")
    mode = stat.S_IMODE((tmp_path / "m.npz").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain").stat().st_mode)


def test_overwriting_replaces_the_file(tmp_path):
    path = tmp_path / "m.npz"
    save(Linear(2, 2, rng=0), path)
    save(Linear(2, 2, rng=1), path)
    np.testing.assert_array_equal(load_state(path)["weight"], Linear(2, 2, rng=1).weight.data)
    assert entries(tmp_path) == ["m.npz"]


# --- PyTorch weights --------------------------------------------------------------------------


def test_plain_npz_of_pytorch_weights_loads_into_the_same_layout(tmp_path):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    np.savez(tmp_path / "torch.npz", **{k: v.numpy() for k, v in theirs.state_dict().items()})
    ours = load(tensor_mlp([3, 4, 2], activation="tanh", rng=0), tmp_path / "torch.npz")
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(Tensor(x)).data, expected, rtol=1e-5, atol=1e-6)


# --- checkpoints ------------------------------------------------------------------------------


class Optimizer:
    """Stands in for an optimizer: PyTorch's state_dict layout, int keys, tuples."""

    def __init__(self, params, lr=0.1):
        self.params = params
        self.lr = lr
        self.state = {}

    def state_dict(self):
        return {
            "state": {i: {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                          for k, v in s.items()} for i, s in self.state.items()},
            "param_groups": [{"lr": self.lr, "betas": (0.9, 0.999),
                              "params": list(range(len(self.params)))}],
        }  # fmt: skip

    def load_state_dict(self, state):
        if len(state["param_groups"][0]["params"]) != len(self.params):
            raise ValueError("optimizer: the state has a different number of parameters")
        self.lr = state["param_groups"][0]["lr"]
        self.state = {i: dict(s) for i, s in state["state"].items()}


class Schedule:
    def __init__(self):
        self.last_epoch = 0

    def state_dict(self):
        return {"last_epoch": self.last_epoch}

    def load_state_dict(self, state):
        self.last_epoch = state["last_epoch"]


def test_checkpoint_round_trip(tmp_path):
    model = tensor_mlp([2, 3, 1], rng=0)
    optimizer = Optimizer(model.parameters(), lr=0.05)
    optimizer.state = {0: {"momentum_buffer": np.ones((3, 2)), "step": 4}, 3: {"step": 4}}
    schedule = Schedule()
    schedule.last_epoch = 12
    ema = tensor_mlp([2, 3, 1], rng=7)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model=model, optimizer=optimizer, scheduler=schedule, epoch=12,
                    ema=ema, best_loss=0.25, history={"loss": [1.0, 0.5]})  # fmt: skip
    model2, ema2 = tensor_mlp([2, 3, 1], rng=1), tensor_mlp([2, 3, 1], rng=2)
    optimizer2, schedule2 = Optimizer(model2.parameters()), Schedule()
    content = load_checkpoint(path, model=model2, optimizer=optimizer2, scheduler=schedule2,
                              ema=ema2)  # fmt: skip
    assert snapshot(model2) == snapshot(model) and snapshot(ema2) == snapshot(ema)
    assert optimizer2.lr == 0.05 and schedule2.last_epoch == 12
    assert same(optimizer2.state, optimizer.state)
    assert content["epoch"] == 12 and content["best_loss"] == 0.25
    assert content["history"] == {"loss": [1.0, 0.5]}
    assert same(content["optimizer"], optimizer.state_dict())
    assert sorted(content) == ["best_loss", "ema", "epoch", "history", "model", "optimizer",
                               "scheduler"]  # fmt: skip
    assert type(content["epoch"]) is int
    # loading only some of them, or none, is fine
    assert load_checkpoint(path)["epoch"] == 12


def test_checkpoint_loads_all_objects_or_none(tmp_path):
    model = tensor_mlp([2, 3, 1], rng=0)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model=model, optimizer=Optimizer(model.parameters()))
    other = tensor_mlp([2, 3, 1], rng=1)
    before = snapshot(other)
    wrong_optimizer = Optimizer(other.parameters()[:2])
    with pytest.raises(ValueError, match="different number of parameters"):
        load_checkpoint(path, model=other, optimizer=wrong_optimizer)
    assert snapshot(other) == before  # the model was loaded first, then put back


def test_checkpoint_errors(tmp_path):
    model = tensor_mlp([2, 3, 1], rng=0)
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model=model, epoch=1)
    with pytest.raises(KeyError, match="holds no state for optimizer"):
        load_checkpoint(path, model=model, optimizer=Optimizer([]))
    with pytest.raises(ValueError, match="is a checkpoint; use load_checkpoint"):
        load(model, path)
    save(model, tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="is not a checkpoint"):
        load_checkpoint(tmp_path / "plain.npz", model=model)
    with pytest.raises(TypeError, match="save_checkpoint: notes is a Tensor"):
        save_checkpoint(tmp_path / "bad.npz", model=model, notes=Tensor([1.0]))
    assert not (tmp_path / "bad.npz").exists()
    with pytest.raises(ValueError, match="size mismatch"):
        load_checkpoint(path, model=tensor_mlp([2, 4, 1]))


def test_checkpoint_of_a_scalar_model_and_strict(tmp_path):
    model = MLP(2, [3, 1], seed=0)
    save_checkpoint(tmp_path / "c.npz", model=model, epoch=0)
    bigger = MLP(2, [3, 1], seed=1)
    bigger.extra = Value(5.0)
    with pytest.raises(ValueError, match="missing key extra"):
        load_checkpoint(tmp_path / "c.npz", model=bigger)
    load_checkpoint(tmp_path / "c.npz", model=bigger, strict=False)
    assert [p.data for p in bigger.parameters()][1:] == [p.data for p in model.parameters()]


def test_save_accepts_str_and_pathlike_and_modules_with_buffers(tmp_path):
    class Stats(Module):
        def __init__(self):
            self.w = Tensor(np.ones(2), requires_grad=True)
            self.register_buffer("running_mean", np.array([0.5, 1.5]))

    save(Stats(), str(tmp_path / "stats.npz"))
    target = Stats()
    target.running_mean = np.zeros(2)
    nn.load(target, tmp_path / "stats.npz")
    assert target.running_mean.tolist() == [0.5, 1.5]
