"""fit's input checks: every bad input gets fnnet's message, naming what was wrong and what to pass instead,
before the first step; validation data is checked like the training data; shape errors quote the user's
shapes, not fit's internal probe."""

import re

import jax
import numpy as np
import optax
import pytest

import fnnet as fn
from fnnet import losses

rng = np.random.default_rng(0)
X = rng.normal(size=(50, 4)).astype(np.float32)
Y = X[:, :1] * 2.0
LABELS = (X[:, 0] > 0).astype(np.int32)


class Steps(fn.training.Callback):
    """Records whether training began at all."""

    def __init__(self):
        self.calls = []

    def begin(self, run):
        self.calls.append("begin")

    def step_end(self, run, logs):
        self.calls.append("step")


def _fit(**kw):
    args = dict(
        model=fn.Dense(1),
        loss=losses.mean_squared_error,
        optimizer=optax.sgd(0.1),
        x=X,
        y=Y,
        key=jax.random.key(0),
        batch_size=10,
        epochs=2,
    )
    args.update(kw)
    positional = [args.pop(name) for name in ("model", "loss", "optimizer", "x", "y")]
    return fn.fit(*positional, **args)


CLASSIFIER = dict(model=fn.Dense(2), loss=losses.softmax_cross_entropy, y=LABELS)
VALIDATION_CASES = {
    "5 features, training has 4": (
        dict(validation_data=(rng.normal(size=(10, 5)).astype(np.float32), Y[:10])),
        ValueError,
        r"validation x has examples of shape \[5\] but the training x has \[4\]",
    ),
    "label equal to K": (
        dict(CLASSIFIER, validation_data=(X[:10], np.full(10, 2, np.int32))),
        ValueError,
        r"validation y labels must be in 0..1 \(the model has 2 outputs\), found 2",
    ),
    "label -1": (
        dict(CLASSIFIER, validation_data=(X[:10], np.r_[np.zeros(9, np.int32), -1])),
        ValueError,
        r"validation y labels must be in 0..1 \(the model has 2 outputs\), found -1",
    ),
    "lengths differ": (
        dict(validation_data=(X[:10], Y[:9])),
        ValueError,
        "validation x has 10 examples but validation y has 9",
    ),
    "targets of another shape": (
        dict(validation_data=(X[:10], Y[:10, 0])),
        fn.ShapeError,
        r"validation data: .*predictions \[10, 1\] and targets \[10\]",
    ),
    "not numeric": (
        dict(validation_data=(X[:10], np.array(["a"] * 10))),
        TypeError,
        "validation y must be numeric",
    ),
    "not a pair": (
        dict(validation_data=(X[:10],)),
        TypeError,
        r"validation_data must be a pair \(x_val, y_val\)",
    ),
}


@pytest.mark.parametrize("fused", [False, True], ids=["per-step", "fused"])
@pytest.mark.parametrize("case", list(VALIDATION_CASES))
def test_validation_data_is_checked_like_the_training_data_before_the_first_step(case, fused):
    kw, error, pattern = VALIDATION_CASES[case]
    steps = Steps()
    with pytest.raises(error, match=pattern):
        _fit(fused=fused, callbacks=[steps], **kw)
    assert steps.calls == []  # nothing ran: not a step, not even the callbacks' begin


def _rows():
    yield from X


BAD_INPUTS = {
    "ragged list as x": (
        dict(x=[[1.0, 2.0], [1.0]], y=[[1.0], [2.0]]),
        ValueError,
        r"fit: x is ragged: its rows have different shapes.*pad or trim",
    ),
    "ragged list as y": (
        dict(y=[[1.0]] * 49 + [[1.0, 2.0]]),
        ValueError,
        r"fit: y is ragged: its rows have different shapes",
    ),
    "float batch_size": (
        dict(batch_size=8.5),
        TypeError,
        r"fit: batch_size must be a positive int, got 8\.5",
    ),
    "empty data set": (
        dict(x=np.zeros((0, 4), np.float32), y=np.zeros((0, 1), np.float32)),
        ValueError,
        r"fit: the data set is empty \(0 examples\)",
    ),
    "generator as x": (
        dict(x=_rows()),
        TypeError,
        r"fit: x must be an array \[N, \.\.\.\].*got a generator.*np\.stack\(list\(",
    ),
    "scalar as y": (
        dict(y=3.0),
        ValueError,
        r"fit: y must be an array \[N, \.\.\.\] with one row per example",
    ),
    "int as key": (
        dict(key=0),
        TypeError,
        r"fit: key must be a jax\.random key such as jax\.random\.key\(0\), got 0",
    ),
    "batch of keys as key": (
        dict(key=jax.random.split(jax.random.key(0))),
        TypeError,
        r"fit: key must be a jax\.random key such as jax\.random\.key\(0\)",
    ),
    "optax.adam uncalled": (
        dict(optimizer=optax.adam),
        TypeError,
        r"fit: optimizer must be an optax GradientTransformation.*function adam itself.*optax\.adam\(1e-3\)",
    ),
    "optimizer name": (
        dict(optimizer="adam"),
        TypeError,
        r"fit: optimizer must be an optax GradientTransformation.*got 'adam'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_get_fnnet_messages_saying_what_to_pass(case):
    kw, error, pattern = BAD_INPUTS[case]
    steps = Steps()
    with pytest.raises(error, match=pattern):
        _fit(callbacks=[steps], **kw)
    assert steps.calls == []


def test_an_old_style_uint32_key_is_still_accepted():
    assert _fit(key=jax.random.PRNGKey(0), epochs=1).steps == 5


IMAGES = np.zeros((50, 28, 28, 1), np.float32)
MLP = fn.Sequential(fn.Dense(16), fn.activations.relu, fn.Dense(10))
SHAPE_CASES = {
    "targets [N] for outputs [N, 1]": (
        dict(y=Y[:, 0]),
        [r"predictions \[50, 1\] and targets \[50\]", r"reshape the targets to \[50, 1\]"],
    ),
    "unflattened images into an MLP": (
        dict(model=MLP, loss=losses.softmax_cross_entropy, x=IMAGES, y=np.zeros(50, np.int32)),
        [r"model's outputs \[50, 28, 28, 10\] have 2 more axes than the targets \[50\]", r"fn\.Flatten\(\)"],
    ),
    "unflattened images, regression": (
        dict(model=MLP, x=IMAGES, y=np.zeros((50, 10), np.float32)),
        [r"model's outputs \[50, 28, 28, 10\] have 2 more axes than the targets \[50, 10\]", r"Flatten"],
    ),
    "float class labels": (
        dict(model=fn.Dense(2), loss=losses.softmax_cross_entropy, y=LABELS.astype(np.float32)),
        [r"labels \[50\] of dtype float32", r"integer class labels", r"astype\(np\.int32\)"],
    ),
}


@pytest.mark.parametrize("case", list(SHAPE_CASES))
def test_shape_errors_quote_the_users_shapes_and_name_the_cause(case):
    kw, patterns = SHAPE_CASES[case]
    with pytest.raises(fn.ShapeError) as err:
        _fit(**kw)
    message = str(err.value)
    for pattern in patterns:
        assert re.search(pattern, message), (pattern, message)
    assert "[2," not in message and "[2]" not in message  # not fit's internal 2-row probe
