"""Checkpoint files: safetensors other tools read, round trips, the model in the file, every flipped bit
caught, mismatch errors, the first format still read, atomic saves and keep-last-N."""

import json
import os
import pathlib

import jax
import numpy as np
import optax
import pytest
import safetensors.numpy
import safetensors.torch

import fnnet as fn
from fnnet.training.checkpoint import (
    CheckpointError,
    CheckpointManager,
    load_checkpoint,
    load_model,
    load_params,
    read_manifest,
    save_checkpoint,
    save_params,
)

GOLDEN_V1 = pathlib.Path(__file__).parent / "golden" / "ckpt_v1.fnnet"


def make_state(features=8, seed=0):
    model = fn.Sequential(fn.Dense(features), fn.activations.relu, fn.Dense(3))
    state = fn.init_train_state(model, optax.adam(1e-2), jax.random.key(seed), (5,))
    return model, state


def stepped_state():
    """A state one Adam step in, so the moments are non-trivial."""
    model, state = make_state()
    step = fn.make_train_step(model, fn.losses.softmax_cross_entropy, optax.adam(1e-2), donate=False)
    x = np.random.RandomState(0).randn(4, 5).astype(np.float32)
    return model, step(state, (x, np.array([0, 1, 2, 1])))[0]


def assert_same_tree(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if jax.dtypes.issubdtype(u.dtype, jax.dtypes.prng_key):
            u, v = jax.random.key_data(u), jax.random.key_data(v)
        assert u.dtype == v.dtype
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_parameters_are_read_by_the_safetensors_library_for_numpy_and_torch(tmp_path):
    model = fn.Sequential(fn.Dense(4), fn.BatchNorm(), fn.activations.tanh, fn.Dense(2))
    _, params = model.init(jax.random.key(0), (3,))
    state = model.init_state((3,))
    path = save_params(tmp_path / "m.safetensors", params, model=model, model_state=state, step=12)
    arrays = safetensors.numpy.load_file(path)
    assert set(arrays) == {
        "0.kernel",
        "0.bias",
        "1.scale",
        "1.offset",
        "3.kernel",
        "3.bias",
        "model_state.1.mean",
        "model_state.1.var",
    }
    np.testing.assert_array_equal(arrays["0.kernel"], params["0"]["kernel"])
    np.testing.assert_array_equal(arrays["model_state.1.var"], state["1"]["var"])
    tensors = safetensors.torch.load_file(path)
    np.testing.assert_array_equal(tensors["3.kernel"].numpy(), params["3"]["kernel"])
    with safetensors.safe_open(path, "np") as f:
        info = json.loads(f.metadata()["fnnet"])
        assert {"fnnet.header_sha256", "fnnet.data_crc32"} <= set(f.metadata())
    assert info["step"] == 12 and info["kind"] == "params"
    assert fn.configs.from_config(info["model"]) == model


def test_the_model_is_rebuilt_from_the_file_alone(tmp_path):
    model = fn.Sequential(fn.Conv(4, (3, 3)), fn.activations.relu, fn.Flatten(), fn.Dense(2))
    _, params = model.init(jax.random.key(1), (6, 6, 1))
    path = save_params(tmp_path / "cnn.safetensors", params, model=model)
    rebuilt, loaded, state = load_model(path)
    assert rebuilt == model and state == {}
    x = np.random.RandomState(0).randn(2, 6, 6, 1).astype(np.float32)
    np.testing.assert_array_equal(rebuilt.apply(loaded, x), model.apply(params, x))


def test_a_model_with_user_code_is_saved_without_its_config_and_load_model_says_why(tmp_path):
    model = fn.Sequential(fn.Dense(2), lambda x: x * 2)
    with pytest.raises(fn.configs.ConfigError, match=r"layers\[1\]\.fn.*user code.*register"):
        fn.configs.to_config(model)
    _, params = model.init(jax.random.key(0), (3,))
    path = save_params(tmp_path / "p.safetensors", params, model=model)
    assert load_params(path)[0]["0"]["kernel"].shape == (3, 2)
    with pytest.raises(CheckpointError, match=r"p.safetensors holds no model config: .*user code"):
        load_model(path)


def test_a_registered_user_layer_round_trips():
    import dataclasses

    @fn.configs.register
    @dataclasses.dataclass(frozen=True)
    class Scale(fn.Lambda):
        factor: float = 2.0

    config = fn.configs.to_config(fn.Sequential(Scale(fn.activations.tanh, factor=3.0)))
    assert config["fields"]["layers"][0]["type"].endswith("Scale")
    assert fn.configs.from_config(config) == fn.Sequential(Scale(fn.activations.tanh, factor=3.0))
    with pytest.raises(fn.configs.ConfigError, match="unknown type 'Nope'"):
        fn.configs.from_config({"type": "Nope", "fields": {}})


def test_round_trip_restores_every_leaf_exactly(tmp_path):
    _, state = stepped_state()
    save_checkpoint(tmp_path / "c.safetensors", state, step=1)
    _, template = make_state(seed=3)
    restored, manifest = load_checkpoint(tmp_path / "c.safetensors", template)
    assert manifest["step"] == 1
    assert_same_tree(restored, state)
    np.testing.assert_array_equal(jax.random.normal(restored.key, (3,)), jax.random.normal(state.key, (3,)))
    names = set(safetensors.numpy.load_file(tmp_path / "c.safetensors"))
    assert {"params.0.kernel", "opt_state.0.mu.2.bias", "opt_state.0.count", "step", "key"} <= names


def _flip_sweep(path, load):
    """Flip one bit of every byte in turn; each flip must be a CheckpointError or load what was saved."""
    raw = path.read_bytes()
    expected = load(path)
    caught = same = 0
    for i in range(len(raw)):
        damaged = bytearray(raw)
        damaged[i] ^= 1 << (i % 8)
        path.write_bytes(bytes(damaged))
        try:
            got = load(path)
        except CheckpointError as err:
            assert str(path) in str(err)
            caught += 1
            continue
        jax.tree.map(np.testing.assert_array_equal, got, expected)
        same += 1
    path.write_bytes(raw)
    return caught, same


def test_every_flipped_bit_of_a_checkpoint_is_caught_or_harmless(tmp_path):
    model, state = stepped_state()
    path = save_checkpoint(
        tmp_path / "c.safetensors", state, step=1, model=model, metadata={"history": {"loss": [0.5]}}
    )

    def load(p):
        restored, manifest = load_checkpoint(p, state)
        flat = jax.tree.map(lambda a: jax.random.key_data(a) if a.dtype == state.key.dtype else a, restored)
        return flat, json.dumps(manifest, sort_keys=True)

    caught, same = _flip_sweep(path, lambda p: (lambda r: (jax.tree.leaves(r[0]), r[1]))(load(p)))
    assert caught >= len(path.read_bytes()) - 8  # only flips in the header's trailing padding can load
    assert caught + same == len(path.read_bytes())


def test_every_flipped_bit_of_a_parameters_file_is_caught_or_harmless(tmp_path):
    model, state = stepped_state()
    path = save_params(tmp_path / "p.safetensors", state.params, model=model, step=3)
    caught, same = _flip_sweep(
        path, lambda p: (jax.tree.leaves(load_params(p)[0]), json.dumps(load_params(p)[2]))
    )
    assert caught + same == len(path.read_bytes()) and caught >= len(path.read_bytes()) - 8


def test_truncation_at_any_length_is_a_checkpoint_error(tmp_path):
    _, state = make_state()
    path = save_checkpoint(tmp_path / "c.safetensors", state, step=1)
    raw = path.read_bytes()
    for n in range(0, len(raw), 37):
        path.write_bytes(raw[:n])
        with pytest.raises(CheckpointError, match="c.safetensors"):
            load_checkpoint(path, state)


def test_a_foreign_safetensors_file_is_refused_with_a_pointer(tmp_path):
    path = tmp_path / "foreign.safetensors"
    safetensors.numpy.save_file({"w": np.ones(3, np.float32)}, path)
    with pytest.raises(CheckpointError, match="no fnnet checksums.*safetensors.numpy.load_file"):
        load_params(path)


def test_mismatched_model_names_the_first_differing_leaf_and_shapes(tmp_path):
    _, state = make_state(features=8)
    path = save_checkpoint(tmp_path / "c.safetensors", state, step=1)
    _, other = make_state(features=9)
    with pytest.raises(CheckpointError, match=r"at params\.0\.bias.*\(8,\).*\(9,\)"):
        load_checkpoint(path, other)
    deeper = fn.init_train_state(
        fn.Sequential(fn.Dense(8), fn.activations.relu, fn.Dense(3), fn.Dense(2)),
        optax.adam(1e-2),
        jax.random.key(0),
        (5,),
    )
    with pytest.raises(CheckpointError, match=r"has no leaf params\.3\.bias"):
        load_checkpoint(path, deeper)
    path = save_checkpoint(tmp_path / "deeper.safetensors", deeper, step=1)
    with pytest.raises(CheckpointError, match=r"extra leaf .*\.3\."):
        load_checkpoint(path, state)


@pytest.mark.parametrize("dtype", ["float64", "bfloat16", "int32", "float16"])
def test_a_template_of_another_dtype_names_the_leaf_and_both_dtypes(tmp_path, dtype):
    _, state = make_state()
    path = save_checkpoint(tmp_path / "c.safetensors", state, step=1)
    with jax.enable_x64(dtype == "float64"):
        kernel = state.params["2"]["kernel"].astype(dtype)
        template = state._replace(params={**state.params, "2": {**state.params["2"], "kernel": kernel}})
        expected = rf"at params\.2\.kernel: the file has dtype float32, the model {dtype}"
        with pytest.raises(CheckpointError, match=expected):
            load_checkpoint(path, template)


def test_a_key_of_another_implementation_or_an_array_for_a_key_is_rejected(tmp_path):
    _, state = make_state()
    path = save_checkpoint(tmp_path / "c.safetensors", state, step=1)
    impl = str(jax.random.key_impl(state.key))
    with pytest.raises(CheckpointError, match=rf"at key: the file has dtype key<{impl}>, the model uint32"):
        load_checkpoint(path, state._replace(key=jax.random.key_data(state.key)))
    path = save_checkpoint(
        tmp_path / "raw.safetensors", state._replace(key=jax.random.key_data(state.key)), step=1
    )
    with pytest.raises(CheckpointError, match=rf"at key: the file has dtype uint32, the model key<{impl}>"):
        load_checkpoint(path, state)


def parse_v1_independently(path):
    """Read a first-format file with its documented layout only (no fnnet code)."""
    import hashlib

    raw = pathlib.Path(path).read_bytes()
    assert raw[:8] == b"FNNETCK1"
    n = int.from_bytes(raw[8:16], "little")
    manifest = json.loads(raw[16 : 16 + n])
    payload = raw[16 + n :]
    assert hashlib.sha256(payload).hexdigest() == manifest["sha256"]
    return {
        e["key"]: np.frombuffer(payload[e["offset"] : e["offset"] + e["nbytes"]], e["dtype"]).reshape(
            e["shape"]
        )
        for e in manifest["leaves"]
    }


def test_files_of_the_first_format_still_load(tmp_path):
    _, template = make_state(features=4)
    restored, manifest = load_checkpoint(GOLDEN_V1, template)
    arrays = parse_v1_independently(GOLDEN_V1)
    np.testing.assert_array_equal(restored.params["0"]["kernel"], arrays[".params['0']['kernel']"])
    np.testing.assert_array_equal(
        restored.opt_state[0].nu["2"]["bias"], arrays[".opt_state[0].nu['2']['bias']"]
    )
    np.testing.assert_array_equal(jax.random.key_data(restored.key), arrays[".key"])
    assert manifest["step"] == 1 and read_manifest(GOLDEN_V1)["metadata"]["history"] == {"loss": [1.5]}
    path = tmp_path / "ckpt_000000001.fnnet"
    path.write_bytes(GOLDEN_V1.read_bytes())
    assert CheckpointManager(tmp_path).restore(template)[1]["step"] == 1
    caught, same = _flip_sweep(
        path,
        lambda p: jax.tree.leaves(
            jax.tree.map(
                lambda a: jax.random.key_data(a) if a.dtype == template.key.dtype else a,
                load_checkpoint(p, template)[0],
            )
        ),
    )
    assert caught + same == len(GOLDEN_V1.read_bytes())


def test_manager_keeps_the_last_n(tmp_path):
    _, state = make_state()
    manager = CheckpointManager(tmp_path / "run", keep=2)
    assert manager.latest() is None and manager.restore(state) is None
    for step in (5, 10, 15, 20):
        manager.save(state, step=step)
    assert manager.steps() == [15, 20]
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["ckpt_000000015.safetensors", "ckpt_000000020.safetensors"]
    assert read_manifest(manager.path(20))["step"] == 20
    with pytest.raises(ValueError, match="keep must be at least 1"):
        CheckpointManager(tmp_path / "x", keep=0)


def test_a_crash_during_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    _, state = make_state()
    manager = CheckpointManager(tmp_path, keep=5)
    manager.save(state, step=1)
    before = manager.path(1).read_bytes()

    def crash(fd):
        raise OSError("disk died")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk died"):
        manager.save(state, step=1)  # overwrite of the same step fails half-way
    monkeypatch.undo()
    assert manager.path(1).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt_000000001.safetensors"]  # no temp file left
    load_checkpoint(manager.path(1), state)


def test_stale_temporary_files_are_removed_by_the_writer_only(tmp_path):
    stale = tmp_path / ".ckpt_000000003.safetensors.abc.tmp"
    stale.write_bytes(b"half a file")
    manager = CheckpointManager(tmp_path)
    assert manager.steps() == [] and stale.exists()  # reading leaves a concurrent save alone
    _, state = make_state()
    manager.save(state, step=4)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt_000000004.safetensors"]
