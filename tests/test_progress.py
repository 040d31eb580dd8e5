"""Progress bars for fit: what they print, when, and the summary table."""

import io

import jax
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet.training.progress import ProgressBar, format_history, progress_enabled


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
    result = small_fit(epochs=2, callbacks=[ProgressBar(file=out)])
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
    class Record(fn.training.Callback):
        def __init__(self):
            self.events = []

        def begin(self, run):
            self.events.append(("begin", run.epochs, run.steps_per_epoch, run.step))

        def step_end(self, run, logs):
            self.events.append(("step", run.step, run.fused, round(float(logs["loss"]), 6)))

        def epoch_end(self, run, epoch, logs):
            self.events.append(("epoch", epoch, round(float(logs["loss"]), 6)))

        def end(self, run):
            self.events.append("end")

    rec = Record()
    result = small_fit(epochs=2, callbacks=[rec])
    losses = [round(v, 6) for v in result.history["loss"]]
    steps = [e for e in rec.events if e[0] == "step"]
    assert [s[1] for s in steps] == list(range(1, 9)) and not any(s[2] for s in steps)
    assert np.mean([s[3] for s in steps[:4]]) == pytest.approx(losses[0], abs=1e-5)
    assert [e[0] if isinstance(e, tuple) else e for e in rec.events] == [
        "begin", *["step"] * 4, "epoch", *["step"] * 4, "epoch", "end",
    ]  # fmt: skip
    assert rec.events[0] == ("begin", 2, 4, 0) and rec.events[5] == ("epoch", 0, losses[0])
    # a fused epoch hands over its steps' logs at the epoch's end, with the same values
    fused = Record()
    small_fit(epochs=2, callbacks=[fused], fused=True)
    assert [e[0] if isinstance(e, tuple) else e for e in fused.events] == [
        e[0] if isinstance(e, tuple) else e for e in rec.events
    ]
    fused_steps = [e for e in fused.events if e[0] == "step"]
    assert all(s[2] for s in fused_steps) and [s[1] for s in fused_steps] == list(range(1, 9))
    np.testing.assert_allclose([s[3] for s in fused_steps], [s[3] for s in steps], rtol=1e-5)


def test_progress_enabled_context_turns_bars_on_for_default_fits(capsys):
    small_fit(epochs=1)
    assert "epoch 1/1" not in capsys.readouterr().err
    with progress_enabled():
        small_fit(epochs=1)
    assert "epoch 1/1" in capsys.readouterr().err


def test_early_stop_leaves_no_empty_bar():
    out = io.StringIO()
    small_fit(
        epochs=5, stop=fn.training.StopRule(max_steps=6), callbacks=[ProgressBar(file=out, summary=False)]
    )
    text = out.getvalue()
    assert "epoch 2/5" in text and "epoch 3/5" not in text


def test_a_bar_listed_before_a_resuming_checkpoint_counts_from_the_resumed_epoch(tmp_path):
    small_fit(epochs=1, callbacks=[fn.training.Checkpoint(tmp_path)])  # 4 steps saved
    out = io.StringIO()
    small_fit(epochs=2, callbacks=[ProgressBar(file=out, summary=False), fn.training.Checkpoint(tmp_path)])
    text = out.getvalue()
    assert "epoch 2/2" in text and "epoch 1/2" not in text
