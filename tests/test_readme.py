"""Every ```python block of the README runs as written, in order, in one namespace, and does what its
comments say. The few names a block takes from the surrounding prose (an RNN's input and parameters) are
set up here; the MNIST block reads the real files when they are there and otherwise a stand-in with the
real loader's signature, so the example cannot drift either way."""

import inspect
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet
from fnnet.data import idx

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def _mnist_or_stand_in(monkeypatch):
    """The real ``load_mnist`` if its files are found; else a small stand-in that binds the same arguments."""
    try:
        idx.load_mnist("mnist")
        return
    except (FileNotFoundError, OSError, ValueError):
        pass
    real = inspect.signature(idx.load_mnist)

    def stand_in(*args, **kwargs):
        real.bind(*args, **kwargs)  # a README call the real loader would reject fails here too
        rng = np.random.default_rng(0)
        images = lambda n: rng.random((n, 28, 28, 1), dtype=np.float32)  # noqa: E731
        return idx.MnistData(images(64), np.arange(64) % 10, images(16), np.arange(16) % 10)

    monkeypatch.setattr(fnnet.data, "load_mnist", stand_in)


def _before_recurrent_block(namespace):
    # the prose's "y, final = rnn.run(params, x, lengths=lengths)": a batch of 4 sequences of 12 steps
    namespace["x"] = jnp.ones((4, 12, 16))
    namespace["lengths"] = jnp.array([12, 7, 3, 1])


def _recurrent_block(block: str, namespace):
    """Run the block up to ``rnn.run``, give ``rnn`` parameters for ``x``, then run the rest."""
    head, tail = block.split("y, final = rnn.run", 1)
    exec(compile(head, "README.md", "exec"), namespace)
    namespace["params"] = namespace["rnn"].init(jax.random.key(0), namespace["x"].shape[1:])[1]
    exec(compile("y, final = rnn.run" + tail, "README.md", "exec"), namespace)


def test_the_readme_has_the_blocks_this_test_knows():
    blocks = python_blocks()
    assert len(blocks) == 4, "a README python block was added or removed: teach this test about it"
    assert "fn.fit(" in blocks[0] and "class PrintLoss" in blocks[1]
    assert "load_mnist" in blocks[2] and "rnn.run(params, x, lengths=lengths)" in blocks[3]


def test_every_python_block_runs_in_order(capsys, monkeypatch):
    blocks = python_blocks()
    namespace: dict = {}

    # A network in ten lines: trains on digits, prints the summary and the stop reason
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert namespace["logits"].shape == (len(namespace["data"].x_test), 10)
    assert namespace["result"].stop_reason == "completed 20 epochs"
    assert namespace["result"].history["val_accuracy"][-1] > 0.9  # the comment's 0.97...
    out = capsys.readouterr().out
    assert "total" in out and "completed 20 epochs 0.9" in out

    # The callback: a Callback whose epoch_end prints the epoch and its loss
    exec(compile(blocks[1], "README.md", "exec"), namespace)
    fnnet.fit(
        namespace["model"],
        fnnet.losses.softmax_cross_entropy,
        namespace["optax"].sgd(0.1),
        namespace["data"].x_train[:64],
        namespace["data"].y_train[:64],
        key=jax.random.key(1),
        epochs=2,
        batch_size=32,
        callbacks=[namespace["PrintLoss"]()],
    )
    printed = capsys.readouterr().out.split()
    assert printed[0::2] == ["0", "1"] and all(np.isfinite(float(v)) for v in printed[1::2])

    # The CNN: builds on MNIST's shapes
    _mnist_or_stand_in(monkeypatch)
    exec(compile(blocks[2], "README.md", "exec"), namespace)
    mnist = namespace["mnist"]
    assert mnist.x_train.shape[1:] == (28, 28, 1) and mnist.x_train.dtype == np.float32
    out_shape, cnn_params = namespace["cnn"].init(jax.random.key(0), mnist.x_train.shape[1:])
    assert out_shape == (10,)
    assert namespace["cnn"].apply(cnn_params, mnist.x_test[:2]).shape == (2, 10)

    # Recurrent networks: y: [B, T, 128]; outputs past each length are zero
    _before_recurrent_block(namespace)
    _recurrent_block(blocks[3], namespace)
    y, lengths = namespace["y"], np.asarray(namespace["lengths"])
    assert y.shape == (4, 12, 128)
    past = np.arange(12)[None, :] >= lengths[:, None]  # [B, T]
    assert np.all(np.asarray(y)[past] == 0) and np.all(np.abs(np.asarray(y)[~past]).sum(-1) > 0)
    out_shape, _ = namespace["model"].init(jax.random.key(0), (12, 16))
    assert out_shape == (10,)


def test_a_drifted_block_fails():
    """The first block with the input size drifted from the data's: the next line's apply raises."""
    block = python_blocks()[0].split("\nresult = ")[0]
    broken = block.replace("model.init(jax.random.key(0), (64,))", "model.init(jax.random.key(0), (65,))")
    assert broken != block
    with pytest.raises(fnnet.ShapeError, match="65"):
        exec(compile(broken, "README.md", "exec"), {})
