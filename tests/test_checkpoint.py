"""Checkpoint files: layout, round trip, atomicity, corruption and mismatch errors, keep-last-N."""

import hashlib
import json
import os
import pathlib

import jax
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet.training.checkpoint import (
    CheckpointError,
    CheckpointManager,
    load_checkpoint,
    read_manifest,
    save_checkpoint,
)


def make_state(features=8, seed=0):
    model = fn.Sequential(fn.Dense(features), fn.activations.relu, fn.Dense(3))
    state = fn.init_train_state(model, optax.adam(1e-2), jax.random.key(seed), (5,))
    return model, state


def parse_independently(path):
    """Read the file with the documented layout only (no fnnet code)."""
    raw = pathlib.Path(path).read_bytes()
    assert raw[:8] == b"FNNETCK1"
    n = int.from_bytes(raw[8:16], "little")
    manifest = json.loads(raw[16 : 16 + n])
    payload = raw[16 + n :]
    assert hashlib.sha256(payload).hexdigest() == manifest["sha256"]
    arrays = {}
    for e in manifest["leaves"]:
        chunk = payload[e["offset"] : e["offset"] + e["nbytes"]]
        arrays[e["key"]] = np.frombuffer(chunk, dtype=np.dtype(e["dtype"]).newbyteorder("<"))
        arrays[e["key"]] = arrays[e["key"]].reshape(e["shape"])
    return manifest, arrays


def test_layout_matches_the_documented_format(tmp_path):
    model, state = make_state()
    path = save_checkpoint(tmp_path / "c.fnnet", state, step=7, model=model, metadata={"a": 1})
    manifest, arrays = parse_independently(path)
    assert manifest["step"] == 7 and manifest["fnnet_version"] == fn.__version__
    assert manifest["model"] == repr(model) and manifest["metadata"] == {"a": 1}
    np.testing.assert_array_equal(arrays[".params['0']['kernel']"], state.params["0"]["kernel"])
    np.testing.assert_array_equal(arrays[".params['2']['bias']"], state.params["2"]["bias"])
    key_entry = next(e for e in manifest["leaves"] if e["key"] == ".key")
    assert key_entry["dtype"] == "uint32" and "prng_impl" in key_entry
    np.testing.assert_array_equal(arrays[".key"], jax.random.key_data(state.key))


def test_round_trip_restores_every_leaf_exactly(tmp_path):
    model, state = make_state()
    # take a step so the Adam moments are non-trivial
    step = fn.make_train_step(model, fn.losses.softmax_cross_entropy, optax.adam(1e-2), donate=False)
    x = np.random.RandomState(0).randn(4, 5).astype(np.float32)
    state, _ = step(state, (x, np.array([0, 1, 2, 1])))
    save_checkpoint(tmp_path / "c.fnnet", state, step=1)
    _, template = make_state(seed=3)
    restored, manifest = load_checkpoint(tmp_path / "c.fnnet", template)
    assert manifest["step"] == 1
    assert jax.tree.structure(restored) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state), strict=True):
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert a.dtype == b.dtype
    # the restored key draws the same numbers
    np.testing.assert_array_equal(jax.random.normal(restored.key, (3,)), jax.random.normal(state.key, (3,)))


def test_truncated_file_is_rejected(tmp_path):
    _, state = make_state()
    path = save_checkpoint(tmp_path / "c.fnnet", state, step=1)
    raw = path.read_bytes()
    path.write_bytes(raw[:-10])
    with pytest.raises(CheckpointError, match="c.fnnet is truncated"):
        load_checkpoint(path)
    path.write_bytes(raw[:12])
    with pytest.raises(CheckpointError, match="not an fnnet checkpoint"):
        load_checkpoint(path)
    path.write_bytes(raw[:40])
    with pytest.raises(CheckpointError, match="manifest is corrupted or truncated"):
        load_checkpoint(path)


def test_corrupted_payload_fails_the_checksum(tmp_path):
    _, state = make_state()
    path = save_checkpoint(tmp_path / "c.fnnet", state, step=1)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupted: the payload's sha256"):
        load_checkpoint(path)


def test_mismatched_model_names_the_first_differing_key_and_shapes(tmp_path):
    _, state = make_state(features=8)
    path = save_checkpoint(tmp_path / "c.fnnet", state, step=1)
    _, other = make_state(features=9)
    with pytest.raises(CheckpointError, match=r"at \.params\['0'\]\['bias'\].*\(8,\).*\(9,\)"):
        load_checkpoint(path, other)
    deeper = fn.init_train_state(
        fn.Sequential(fn.Dense(8), fn.activations.relu, fn.Dense(3), fn.Dense(2)),
        optax.adam(1e-2),
        jax.random.key(0),
        (5,),
    )
    with pytest.raises(CheckpointError, match=r"has no leaf \.params\['3'\]\['bias'\]"):
        load_checkpoint(path, deeper)


def test_a_file_with_an_extra_leaf_is_rejected(tmp_path):
    path = save_checkpoint(tmp_path / "c.fnnet", {"a": np.ones(2, np.float32), "z": np.ones(3)}, step=1)
    with pytest.raises(CheckpointError, match=r"the file has an extra leaf \['z'\]"):
        load_checkpoint(path, {"a": np.zeros(2, np.float32)})
    # the same with a whole training state: a deeper model's file into a shallower model
    deeper = fn.init_train_state(
        fn.Sequential(fn.Dense(8), fn.activations.relu, fn.Dense(3), fn.Dense(2)),
        optax.adam(1e-2),
        jax.random.key(0),
        (5,),
    )
    path = save_checkpoint(tmp_path / "deeper.fnnet", deeper, step=1)
    _, shallow = make_state(features=8)
    with pytest.raises(CheckpointError, match=r"extra leaf .*\['3'\]"):
        load_checkpoint(path, shallow)


@pytest.mark.parametrize("dtype", ["float64", "bfloat16", "int32", "float16"])
def test_a_template_of_another_dtype_names_the_leaf_and_both_dtypes(tmp_path, dtype):
    _, state = make_state()
    path = save_checkpoint(tmp_path / "c.fnnet", state, step=1)
    with jax.enable_x64(dtype == "float64"):
        template = state._replace(
            params={
                **state.params,
                "2": {**state.params["2"], "kernel": state.params["2"]["kernel"].astype(dtype)},
            }
        )
        assert template.params["2"]["kernel"].dtype == np.dtype(dtype)
        expected = rf"at \.params\['2'\]\['kernel'\]: the file has dtype float32, the model {dtype}"
        with pytest.raises(CheckpointError, match=expected):
            load_checkpoint(path, template)


def test_a_key_of_another_implementation_or_an_array_for_a_key_is_rejected(tmp_path):
    _, state = make_state()
    path = save_checkpoint(tmp_path / "c.fnnet", state, step=1)
    impl = str(jax.random.key_impl(state.key))
    with pytest.raises(CheckpointError, match=rf"at \.key: the file has dtype key<{impl}>, the model uint32"):
        load_checkpoint(path, state._replace(key=jax.random.key_data(state.key)))
    path = save_checkpoint(tmp_path / "raw.fnnet", state._replace(key=jax.random.key_data(state.key)), step=1)
    with pytest.raises(CheckpointError, match=rf"at \.key: the file has dtype uint32, the model key<{impl}>"):
        load_checkpoint(path, state)


def test_manager_keeps_the_last_n(tmp_path):
    _, state = make_state()
    manager = CheckpointManager(tmp_path / "run", keep=2)
    assert manager.latest() is None and manager.restore(state) is None
    for step in (5, 10, 15, 20):
        manager.save(state, step=step)
    assert manager.steps() == [15, 20]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "ckpt_000000015.fnnet",
        "ckpt_000000020.fnnet",
    ]
    assert read_manifest(manager.path(20))["step"] == 20
    with pytest.raises(ValueError, match="keep must be at least 1"):
        CheckpointManager(tmp_path / "x", keep=0)


def test_a_crash_during_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    model, state = make_state()
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
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt_000000001.fnnet"]  # no temp file left
    load_checkpoint(manager.path(1), state)


def test_stale_temporary_files_are_removed_by_the_writer_only(tmp_path):
    stale = tmp_path / ".ckpt_000000003.fnnet.abc.tmp"
    stale.write_bytes(b"half a file")
    manager = CheckpointManager(tmp_path)
    assert manager.steps() == [] and stale.exists()  # reading leaves a concurrent save alone
    _, state = make_state()
    manager.save(state, step=4)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt_000000004.fnnet"]
