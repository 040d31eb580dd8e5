"""fnnet.training.callbacks: EarlyStopping's rule and the hooks' order (metric logs: test_metric_logs.py)."""

import jax.numpy as jnp
import pytest

import fnnet as fn
from fnnet.training.callbacks import CallbackList, EarlyStopping, Run


def drive(rule, values, monitor="val_loss"):
    """Feed ``values`` as successive epochs; return (epoch it stopped at or None, the run)."""
    run = Run(model=None, epochs=len(values), steps_per_epoch=1, batch_size=1, state={"w": jnp.zeros(())})
    rule.begin(run)
    for epoch, value in enumerate(values):
        run.state = {"w": jnp.asarray(float(epoch))}  # the state after this epoch is its number
        if rule.epoch_end(run, epoch, {monitor: value}):
            rule.end(run)
            return epoch, run
    rule.end(run)
    return None, run


@pytest.mark.parametrize(
    "patience, values, stops_at",
    [
        (1, [3.0, 2.0, 2.5], 2),  # the first epoch without improvement stops it
        (2, [3.0, 2.0, 2.5], None),
        (2, [3.0, 2.0, 2.5, 2.6], 3),
        (3, [3.0, 2.0, 2.5, 1.0, 1.5, 1.2, 1.1], 6),  # an improvement resets the count
    ],
)
def test_patience_counts_epochs_without_improvement_exactly(patience, values, stops_at):
    stopped, _ = drive(EarlyStopping(patience=patience), values)
    assert stopped == stops_at


def test_min_delta_is_the_margin_an_improvement_must_beat():
    # 2.0 -> 1.95 improves by 0.05: not more than min_delta=0.1, so it does not count
    stopped, run = drive(EarlyStopping(patience=2, min_delta=0.1), [2.0, 1.95, 1.8, 1.75, 1.72])
    assert stopped == 4  # 1.8 counted (0.2 better than 2.0); 1.95, 1.75 and 1.72 did not
    assert float(run.final_state["w"]) == 2.0  # the best epoch: 1.8
    stopped, _ = drive(EarlyStopping(patience=1, min_delta=0.0), [2.0, 1.95])
    assert stopped is None  # any decrease counts without a margin
    with pytest.raises(ValueError, match="min_delta must be >= 0"):
        EarlyStopping(min_delta=-0.1)


def test_mode_max_wants_larger_values_and_restores_the_best():
    stopped, run = drive(
        EarlyStopping("val_accuracy", patience=2, mode="max"), [0.5, 0.7, 0.6, 0.65], "val_accuracy"
    )
    assert stopped == 3 and float(run.final_state["w"]) == 1.0
    stopped, run = drive(
        EarlyStopping("val_accuracy", patience=1, mode="max"), [0.5, 0.7, 0.8], "val_accuracy"
    )
    assert stopped is None and float(run.final_state["w"]) == 2.0
    _, run = drive(EarlyStopping(patience=1, restore_best=False), [1.0, 2.0])
    assert run.final_state is None
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        EarlyStopping(mode="up")
    with pytest.raises(KeyError, match=r"no metric 'val_loss'; have \['loss'\]"):
        drive(EarlyStopping(), [1.0], monitor="loss")


def test_callback_list_calls_in_order_and_the_first_reason_wins():
    calls = []

    class Named(fn.training.Callback):
        def __init__(self, name, reason=None):
            self.name, self.reason = name, reason

        def epoch_end(self, run, epoch, logs):
            calls.append(self.name)
            return self.reason

    hooks = CallbackList([Named("a"), Named("b", "b stops"), Named("c", "c stops")])
    assert hooks.epoch_end(None, 0, {}) == "b stops" and calls == ["a", "b", "c"]
