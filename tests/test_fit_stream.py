"""fit on streams of (x, y) batches (fnnet.training.streams): the same numbers as arrays, the epoch
rules, the batch checks, resume, grain, bfloat16/float16 inputs, and the streamed-MNIST experiment."""

import gzip

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet as fn
from experiments import stream_mnist
from fnnet.data import idx
from fnnet.training.epochs import EpochPlan

N, B, EPOCHS = 40, 8, 3
KEY = jax.random.key(3)


def data(n=N):
    rng = np.random.RandomState(0)
    x = rng.randn(n, 4).astype(np.float32)
    return x, (x[:, 0] > x[:, 2]).astype(np.int32)


def model():
    return fn.Sequential(fn.Dense(8), fn.activations.tanh, fn.Dense(2))


def train(x, y=None, **kwargs):
    kwargs = {"epochs": EPOCHS, "metrics": {"accuracy": fn.metrics.accuracy}, **kwargs}
    return fn.fit(
        model(), fn.losses.softmax_cross_entropy, optax.sgd(0.2, momentum=0.9), x, y, key=KEY, **kwargs
    )


class PlanOrder:
    """A re-iterable stream with a length that yields, per epoch, exactly the batches fit's EpochPlan
    gives arrays (set_epoch picks the epoch), so a streamed fit must equal the array fit."""

    def __init__(self, x, y):
        self.x, self.y, self.epoch = x, y, 0
        self.plan = EpochPlan(len(x), B, jax.random.split(KEY)[1])

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.plan.steps_per_epoch

    def __iter__(self):
        for rows in self.plan.host_rows(self.epoch):
            yield self.x[rows], self.y[rows]


def assert_same(a, b):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_a_stream_of_the_plans_batches_equals_the_array_fit_with_validation_streamed():
    x, y = data()
    arrays = train(x, y, batch_size=B, validation_data=(x[:20], y[:20]))
    val = [(x[:12], y[:12]), (x[12:20], y[12:20])]  # unequal validation batches are fine
    streamed = train(PlanOrder(x, y), validation_data=val)
    assert streamed.steps == arrays.steps == EPOCHS * (N // B)
    assert_same(streamed.state.params, arrays.state.params)
    assert_same(streamed.state.opt_state, arrays.state.opt_state)
    for name in ("loss", "accuracy", "epoch"):
        assert streamed.history[name] == arrays.history[name]
    for name in ("val_loss", "val_accuracy"):  # weighted by batch size: the mean over the 20 examples
        np.testing.assert_allclose(streamed.history[name], arrays.history[name], rtol=1e-6)


def test_a_list_and_a_one_shot_generator_train_on_their_batches_in_order():
    x, y = data()
    batches = [(x[i : i + B], y[i : i + B]) for i in range(0, N, B)]
    listed = train(batches, epochs=2)
    assert listed.steps == 2 * len(batches) and listed.history["epoch"] == [1, 2]
    # reference: the jitted train step run by hand over the same batches
    state = fn.training.init_train_state(
        model(), optax.sgd(0.2, momentum=0.9), jax.random.split(KEY)[0], (4,)
    )
    step = jax.jit(fn.make_step_fn(model(), fn.losses.softmax_cross_entropy, optax.sgd(0.2, momentum=0.9),
                                   {"accuracy": fn.metrics.accuracy}))  # fmt: skip
    for batch in batches + batches:
        state, _ = step(state, batch)
    assert_same(listed.state.params, state.params)
    once = train((b for b in batches), epochs=1)
    assert once.steps == len(batches)


class SameIterator:
    """A re-iterable in name only: its __iter__ hands back one iterator, empty after one pass."""

    def __init__(self, batches):
        self.it = iter(batches)

    def __iter__(self):
        return self.it


def bad_batches():
    x, y = data()
    full = [(x[i : i + B], y[i : i + B]) for i in range(0, N, B)]
    return x, y, full


def sized(batches, length):
    class Sized(list):
        def __len__(self):
            return length

    return Sized(batches)


@pytest.mark.parametrize(
    "case",
    ["fused", "data_parallel", "generator, 2 epochs", "partial batch", "dtype", "not a pair", "empty",
     "same iterator", "fewer than len", "batch_size", "y missing", "later label", "validation shape"],
)  # fmt: skip
def test_bad_streams_get_errors_naming_the_batch_and_epoch(case):
    x, y, full = bad_batches()
    yl = y.copy()
    yl[-1] = 7
    cases = {
        "fused": (dict(x=full, fused=True), ValueError, r"fused=True needs arrays.*the training stream"),
        "data_parallel": (dict(x=full, data_parallel=True), ValueError, r"data_parallel=True needs arrays"),
        "generator, 2 epochs": (dict(x=iter(full), epochs=2), ValueError, r"one-shot iterator.*epochs=2"),
        "partial batch": (dict(x=[*full, (x[:3], y[:3])]), ValueError,
                          r"batch 5 \(epoch 1\).*x is \[3, 4\] float32 but batch 0 was \[8, 4\].*drop_rem"),
        "dtype": (dict(x=[full[0], (x[:8].astype(np.float64), y[:8])]), ValueError,
                  r"batch 1 \(epoch 1\).*float64 but batch 0 was \[8, 4\] float32"),
        "not a pair": (dict(x=[x[:8]]), TypeError, r"batch 0 of the training stream must be a pair \(x, y\)"),
        "empty": (dict(x=[]), ValueError, r"the training stream gave no batches"),
        "same iterator": (dict(x=SameIterator(full)), ValueError,
                          r"epoch 2 of the training stream gave 0 batches.*start afresh"),
        "fewer than len": (dict(x=sized(full, 6)), ValueError,
                           r"epoch 1 of the training stream gave 5 batches but len\(\) says 6"),
        "batch_size": (dict(x=full, batch_size=16), ValueError, r"batch_size=16 but.*has 8 examples"),
        "y missing": (dict(x=x), TypeError, r"y is missing"),
        "later label": (dict(x=[*full[:-1], (x[-8:], yl[-8:])]), ValueError,
                        r"batch 4 \(epoch 1\).*labels must be in 0\.\.1.*found 7"),
        "validation shape": (dict(x=full, validation_data=[(x[:8, :3], y[:8])]), ValueError,
                             r"validation x has examples of shape \[3\] but the training x has \[4\]"),
    }  # fmt: skip
    kw, error, pattern = cases[case]
    kw = {"epochs": 2, **kw}
    with pytest.raises(error, match=pattern):
        train(kw.pop("x"), **kw)


def test_a_stream_without_a_length_learns_its_epoch_size_and_holds_later_epochs_to_it():
    x, y, full = bad_batches()

    class Unsized:
        def __init__(self):
            self.epoch = 0

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __iter__(self):  # one batch fewer in the third epoch
            return iter(full[: 4 if self.epoch == 2 else 5])

    seen = []

    class Spy(fn.training.Callback):
        def epoch_end(self, run, epoch, logs):
            seen.append(run.steps_per_epoch)

    with pytest.raises(
        ValueError, match=r"epoch 3 of the training stream gave 4 batches but its first epoch gave 5"
    ):
        train(Unsized(), callbacks=[Spy()])
    assert seen == [5, 5]


def test_checkpoint_resume_of_a_stream_mid_epoch_equals_an_uninterrupted_run(tmp_path):
    x, y = data()
    full = train(PlanOrder(x, y))
    stop = fn.training.StopRule(max_steps=7)  # 5 steps an epoch: stops in epoch 2
    part = train(PlanOrder(x, y), stop=stop, callbacks=[fn.training.Checkpoint(tmp_path)])
    assert part.steps == 7
    resumed = train(PlanOrder(x, y), callbacks=[fn.training.Checkpoint(tmp_path)])
    assert resumed.steps == full.steps
    assert_same(resumed.state.params, full.state.params)
    assert resumed.history["epoch"] == [1, 2, 3]


class UnsizedPlanOrder(PlanOrder):
    """PlanOrder without ``__len__``: fit learns its epoch size from the first epoch."""

    __len__ = None


def test_a_stream_without_a_length_resumes_with_a_message_and_draws_a_progress_bar(tmp_path):
    import io

    x, y = data()
    out = io.StringIO()
    bar = fn.training.ProgressBar(file=out)
    result = train(UnsizedPlanOrder(x, y), callbacks=[bar, fn.training.Checkpoint(tmp_path, every=2)])
    assert result.steps == 15 and "epoch 3/3" in out.getvalue()
    stop = fn.training.StopRule(max_steps=3)  # stops inside the first epoch, before its size is known
    train(UnsizedPlanOrder(x, y), stop=stop, callbacks=[fn.training.Checkpoint(tmp_path / "part", every=2)])
    with pytest.raises(ValueError, match="cannot resume a stream without a length at step 3"):
        train(UnsizedPlanOrder(x, y), callbacks=[fn.training.Checkpoint(tmp_path / "part")])


def test_a_grain_data_loader_streams_like_the_list_of_its_batches():
    import grain.python as grain

    x, y = data()
    source = [(x[i], y[i]) for i in range(N)]
    sampler = grain.IndexSampler(N, shuffle=True, seed=0, num_epochs=1, shard_options=grain.NoSharding())
    loader = grain.DataLoader(data_source=source, sampler=sampler, worker_count=0,
                              operations=[grain.Batch(B, drop_remainder=True)])  # fmt: skip
    batches = [tuple(np.asarray(a) for a in b) for b in loader]
    assert len(batches) == N // B
    from_loader = train(loader, validation_data=loader)
    from_list = train(batches, validation_data=batches)
    assert from_loader.steps == EPOCHS * len(batches)
    assert_same(from_loader.state.params, from_list.state.params)
    assert from_loader.history == {**from_list.history, "seconds": from_loader.history["seconds"]}


@pytest.mark.parametrize("dtype", [jnp.bfloat16, np.float16])
def test_bfloat16_and_float16_inputs_are_accepted(dtype):
    x, y = data()
    low = x.astype(dtype)
    result = train(low, y, batch_size=B, epochs=1)
    # the model's float32 Dense promotes the inputs; the same numbers as float32 inputs of those values
    reference = train(low.astype(np.float32), y, batch_size=B, epochs=1)
    assert_same(result.state.params, reference.state.params)
    assert result.steps == N // B


@pytest.mark.parametrize("values, dtype", [(["a"] * N, "<U1"), ([object()] * N, "object")])
def test_string_and_object_inputs_are_still_refused(values, dtype):
    _, y = data()
    with pytest.raises(TypeError, match=f"fit: x must be numeric, got dtype {dtype}"):
        train(np.array(values).reshape(N, 1), y, batch_size=B)


def write_idx(folder, split, images, labels):
    folder.mkdir(parents=True, exist_ok=True)
    n = len(labels)
    head = np.array([2051, n, 28, 28], ">u4").tobytes()
    (folder / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(head + images.tobytes()))
    (folder / f"{split}-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(np.array([2049, n], ">u4").tobytes() + labels.tobytes())
    )


def test_idx_batches_stream_the_files_examples_shuffled_once_each(tmp_path):
    rng = np.random.RandomState(0)
    images = rng.randint(0, 256, (700, 28, 28)).astype(np.uint8)
    labels = rng.randint(0, 10, 700).astype(np.uint8)
    folder = tmp_path / "digits"
    write_idx(folder, "train", images, labels)
    reference = idx.read_idx(folder / "train-images-idx3-ubyte.gz")  # fnnet's own reader
    stream = stream_mnist.IdxBatches(folder, "train", 64, buffer=300, seed=1)
    assert len(stream) == 700 // 64
    epochs = []
    for epoch in (0, 1):
        stream.set_epoch(epoch)
        xs, ys = zip(*stream, strict=True)
        assert all(x.shape == (64, 28, 28, 1) and x.dtype == np.float32 for x in xs)
        x, y = np.concatenate(xs), np.concatenate(ys)
        epochs.append(y)
        # every example at most once, each with its own label
        flat = np.round(x.reshape(len(x), -1) * 255).astype(np.uint8)
        rows = {r.tobytes(): i for i, r in enumerate(reference.reshape(700, -1))}
        found = [rows[r.tobytes()] for r in flat]
        assert len(set(found)) == len(found) == 700 // 64 * 64
        np.testing.assert_array_equal(y, labels[found])
        assert found != sorted(found)  # shuffled
    assert not np.array_equal(epochs[0], epochs[1])  # set_epoch gives another order
    plain = stream_mnist.IdxBatches(folder, "train", 100, drop_remainder=False)
    x = np.concatenate([b[0] for b in plain])
    np.testing.assert_array_equal(np.round(x[..., 0] * 255).astype(np.uint8), reference)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(np.array([2049, 700], ">u4").tobytes()))
    with pytest.raises(idx.IdxError, match=r"train-labels-idx1-ubyte.gz: truncated"):
        list(stream_mnist.IdxBatches(folder, "train", 64))


def test_the_stream_mnist_experiment_trains_end_to_end_on_a_subset(tmp_path):
    out = stream_mnist.main(["--train-subset", "2048", "--epochs", "2", "--no-compare", "--quiet",
                             "--out-dir", str(tmp_path)])  # fmt: skip
    assert out["steps"] == 2 * (2048 // stream_mnist.BATCH_SIZE)
    assert out["stream_test_accuracy"] > 0.8  # chance is 0.1


@pytest.mark.slow
def test_streamed_mnist_reaches_the_in_memory_runs_accuracy(tmp_path):
    out = stream_mnist.main(["--quiet", "--out-dir", str(tmp_path)])
    assert out["memory_test_accuracy"] > 0.97
    assert out["stream_test_accuracy"] >= out["memory_test_accuracy"] - 0.005  # within half a point
