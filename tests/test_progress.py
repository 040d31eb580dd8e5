"""Progress bars for fit: what they print, when, and the summary table."""

import io

import jax
import numpy as np
import optax

import fnnet as fn
from fnnet.training.progress import Progress, ProgressBar, format_history, progress_enabled


def small_fit(**kwargs):
    rng = np.random.RandomState(0)
    x = rng.randn(40, 3).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = fn.Sequential(fn.Dense(4), fn.activations.tanh, fn.Dense(2))
    return fn.fit(
        model, fn.losses.softmax_cross_entropy, optax.sgd(0.3), x, y, key=jax.random.key(0),
        batch_size=10, metrics={"accuracy": fn.metrics.accuracy}, **kwargs,
    )  # fmt: skip


def test_bar_shows_each_epoch_with_loss_and_metrics_then_a_table():
    out = io.StringIO()
    result = small_fit(epochs=2, progress=ProgressBar(file=out))
    text = out.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text and "4/4" in text
    assert f"loss={result.history['loss'][-1]:.4g}" in text
    assert f"accuracy={result.history['accuracy'][-1]:.4g}" in text
    assert text.rstrip().endswith(format_history(result.history).splitlines()[-1])


def test_format_history_table():
    history = {"loss": [0.5, 0.25], "val_loss": [0.6, 0.3], "seconds": [1.0, 2.0], "epoch": [1, 2]}
    assert format_history(history).splitlines() == [
        "epoch  loss  val_loss  seconds",
        "    1   0.5       0.6        1",
        "    2  0.25       0.3        2",
    ]


def test_callbacks_see_every_step_and_epoch_and_fused_epochs():
    class Record(Progress):
        def __init__(self):
            self.events = []

        def begin(self, epochs, steps_per_epoch, initial_epoch=0):
            self.events.append(("begin", epochs, steps_per_epoch, initial_epoch))

        def step(self, logs):
            self.events.append("step")

        def epoch_end(self, epoch, logs):
            self.events.append(("epoch", epoch, round(float(logs["loss"]), 6)))

        def end(self, history):
            self.events.append("end")

    rec = Record()
    result = small_fit(epochs=2, progress=rec)
    losses = [round(v, 6) for v in result.history["loss"]]
    assert rec.events == [
        ("begin", 2, 4, 0), *["step"] * 4, ("epoch", 0, losses[0]),
        *["step"] * 4, ("epoch", 1, losses[1]), "end",
    ]  # fmt: skip
    fused = Record()
    small_fit(epochs=2, progress=fused, fused=True)  # one dispatch per epoch: no step events
    assert [e for e in fused.events if e == "step"] == []
    assert [e[0] for e in fused.events if isinstance(e, tuple)] == ["begin", "epoch", "epoch"]


def test_progress_enabled_context_turns_bars_on_for_default_fits(capsys):
    small_fit(epochs=1)
    assert "epoch 1/1" not in capsys.readouterr().err
    with progress_enabled():
        small_fit(epochs=1)
    assert "epoch 1/1" in capsys.readouterr().err


def test_early_stop_leaves_no_empty_bar():
    out = io.StringIO()
    small_fit(epochs=5, max_steps=6, progress=ProgressBar(file=out, summary=False))
    text = out.getvalue()
    assert "epoch 2/5" in text and "epoch 3/5" not in text
