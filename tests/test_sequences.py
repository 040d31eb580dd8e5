"""Sequence data helpers, text sampling, and a short end-to-end recurrent training run."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import fnnet as fn
from fnnet.data import (
    CharVocabulary,
    Standardizer,
    language_model_windows,
    load_series,
    sliding_windows,
    time_ordered_split,
)
from fnnet.interop.torch import rnn_to_torch as to_torch


def test_sliding_windows_pairs_each_window_with_its_future():
    series = np.arange(10.0)
    x, y = sliding_windows(series, window=3, horizon=2)
    assert x.shape == (6, 3, 1) and y.shape == (6, 2)
    for i in range(6):
        np.testing.assert_array_equal(x[i, :, 0], [i, i + 1, i + 2])
        np.testing.assert_array_equal(y[i], [i + 3, i + 4])
    x2, y2 = sliding_windows(np.stack([series, -series], 1), window=4)
    assert x2.shape == (6, 4, 2) and y2.shape == (6, 1, 2) and y2[0, 0, 1] == -4
    with pytest.raises(ValueError, match="10 steps is too short for window 9 plus horizon 2"):
        sliding_windows(series, 9, 2)


def test_time_ordered_split_keeps_order_and_context():
    series = np.arange(20)
    train, test = time_ordered_split(series, test_fraction=0.25, context=3)
    np.testing.assert_array_equal(train, np.arange(15))
    np.testing.assert_array_equal(test, np.arange(12, 20))
    _, y = sliding_windows(test, window=3)
    np.testing.assert_array_equal(y[:, 0], np.arange(15, 20))  # every test step is a target once
    with pytest.raises(ValueError, match="test_fraction must be in"):
        time_ordered_split(series, test_fraction=1.5)


def test_scaling_is_fitted_on_the_training_part_only():
    train, test = time_ordered_split(np.arange(100.0), test_fraction=0.5)
    scaler = Standardizer.fit(train)
    assert scaler.mean == pytest.approx(24.5)
    z = scaler.transform(test)
    np.testing.assert_allclose(z, (test - 24.5) / np.std(np.arange(50.0)), rtol=1e-5)
    np.testing.assert_allclose(scaler.inverse(z), test, rtol=1e-5)


def test_load_series_reads_the_shared_csvs(data_dir, tmp_path):
    air = load_series("airline-passengers", data_dir)
    assert air.shape == (144,) and air.sum() == 40363 and air[0] == 112
    assert load_series("monthly-sunspots", data_dir).shape == (2820,)
    with pytest.raises(KeyError, match="unknown series 'nile'"):
        load_series("nile", data_dir)
    (tmp_path / "timeseries").mkdir()
    (tmp_path / "timeseries" / "airline-passengers.csv").write_text('"Month","P"\n"1949-01",x\n')
    with pytest.raises(ValueError, match="airline-passengers.csv, line 2"):
        load_series("airline-passengers", tmp_path)


def test_char_vocabulary_round_trip_and_unknown_characters():
    vocab = CharVocabulary.from_text("hello world")
    assert vocab.chars == (" ", "d", "e", "h", "l", "o", "r", "w") and vocab.size == 8
    ids = vocab.encode("hold")
    np.testing.assert_array_equal(ids, [3, 5, 4, 1])
    assert vocab.decode(ids) == "hold"
    with pytest.raises(KeyError, match="character 'z' at position 2 is not in the vocabulary"):
        vocab.encode("hez")
    with pytest.raises(ValueError, match=r"ids must be in 0\.\.7"):
        vocab.decode([8])


def test_language_model_windows_shift_by_one():
    x, y = language_model_windows(np.arange(11), length=4)
    np.testing.assert_array_equal(x, [[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(y, [[1, 2, 3, 4], [5, 6, 7, 8]])


def _char_model_and_torch_twin(V=6, E=4, H=8):
    rnn = fn.RNN(fn.LSTMCell(H))
    model = fn.Sequential(fn.Embedding(V, E), rnn, fn.Dense(V))
    _, params = model.init(jax.random.key(0), (5,))
    emb = torch.nn.Embedding(V, E)
    lstm = torch.nn.LSTM(E, H, batch_first=True)
    head = torch.nn.Linear(H, V)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(np.asarray(params["0"]["embedding"])))
        lstm.load_state_dict({k: torch.tensor(v) for k, v in to_torch(params["1"], rnn).items()})
        head.weight.copy_(torch.tensor(np.asarray(params["2"]["kernel"]).T))
        head.bias.copy_(torch.tensor(np.asarray(params["2"]["bias"])))

    def torch_logits(tokens):  # next-token logits after reading all of `tokens`: [B, V]
        out, _ = lstm(emb(torch.tensor(tokens)))
        return head(out[:, -1])

    return model, params, torch_logits


def test_greedy_sampling_matches_a_pytorch_decoder():
    model, params, torch_logits = _char_model_and_torch_twin()
    prompt = np.array([[1, 2, 3], [5, 0, 0]])
    got = fn.sampling.sample(model, params, prompt, 6, key=jax.random.key(0), temperature=0.0)
    tokens = prompt.copy()
    with torch.no_grad():
        for _ in range(6):  # re-read the whole prefix each step: no carried state
            nxt = torch_logits(tokens).argmax(-1).numpy()[:, None]
            tokens = np.concatenate([tokens, nxt], axis=1)
    np.testing.assert_array_equal(np.asarray(got), tokens[:, 3:])


def test_temperature_sampling_follows_the_tempered_softmax():
    model, params, torch_logits = _char_model_and_torch_twin()
    n, temperature = 4000, 0.7
    prompt = np.tile([[2, 4]], (n, 1))
    got = np.asarray(
        fn.sampling.sample(model, params, prompt, 1, key=jax.random.key(1), temperature=temperature)
    )
    with torch.no_grad():
        p = torch.softmax(torch_logits(prompt[:1]) / temperature, -1).numpy()[0]
    freq = np.bincount(got[:, 0], minlength=len(p)) / n
    np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p * (1 - p) / n).max() + 1e-3)
    with pytest.raises(ValueError, match="prompt must be"):
        fn.sampling.sample(model, params, np.array([1, 2]), 3, key=jax.random.key(0))


def test_gru_learns_a_task_that_needs_memory():
    # The label is the sign of the first step; 11 steps of noise follow, so the state must keep it.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 12, 2)).astype(np.float32)
    y = rng.integers(0, 2, size=512).astype(np.int32)
    x[:, 0, 0] = 2.0 * y - 1  # +1 or -1 at the first step
    model = fn.Sequential(fn.RNN(fn.GRUCell(16), return_sequences=False), fn.Dense(2))
    result = fn.fit(
        model, fn.losses.softmax_cross_entropy, optax.adam(1e-2), x[:384], y[:384],
        key=jax.random.key(0), epochs=25, batch_size=32, fused=True,
    )  # fmt: skip
    logits = fn.predict(model, result.state.params, x[384:])
    assert float(jnp.mean(jnp.argmax(logits, -1) == y[384:])) > 0.95
