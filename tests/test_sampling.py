"""Temperature sampling against softmax(logits / T) computed in NumPy, on a peaked distribution.

(The greedy decoder against PyTorch and the first temperature check live in ``test_sequences.py``.)
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnnet as fn

# Peaked enough that T = 0.5, 1 and 2 give next-token frequencies many standard errors apart.
LOGITS = np.array([2.0, 0.5, 0.0, -1.0, -3.0], np.float32)
N = 8000


def _constant_logits_model():
    """A language model whose next-token logits are ``LOGITS`` whatever it has read."""
    model = fn.Sequential(fn.Embedding(len(LOGITS), 3), fn.RNN(fn.SimpleRNNCell(4)), fn.Dense(len(LOGITS)))
    _, params = model.init(jax.random.key(0), (2,))
    params["2"] = {"kernel": jnp.zeros_like(params["2"]["kernel"]), "bias": jnp.asarray(LOGITS)}
    return model, params


def _tempered_softmax(temperature):
    z = LOGITS.astype(np.float64) / temperature
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sample_frequencies_follow_the_tempered_softmax(temperature):
    model, params = _constant_logits_model()
    prompt = np.tile([[1, 3]], (N, 1))
    got = np.asarray(
        fn.sampling.sample(model, params, prompt, 3, key=jax.random.key(7), temperature=temperature)
    )
    want = _tempered_softmax(temperature)
    tolerance = 5 * np.sqrt(want * (1 - want) / N) + 1e-3  # 5 standard errors per token
    # position 0 is drawn from the prompt's logits, positions 1 and 2 inside the scan
    for position in range(3):
        freq = np.bincount(got[:, position], minlength=len(LOGITS)) / N
        np.testing.assert_array_less(
            np.abs(freq - want), tolerance, err_msg=f"T={temperature} pos {position}"
        )


def test_the_temperatures_tested_are_far_apart():
    # guards the test above: a sampler that ignored T would be off by more than 5 tolerances
    p_half, p_one, p_two = (_tempered_softmax(t) for t in (0.5, 1.0, 2.0))
    tolerance = 5 * np.sqrt(0.25 / N) + 1e-3
    assert np.abs(p_half - p_one).max() > 5 * tolerance and np.abs(p_two - p_one).max() > 5 * tolerance


def test_zero_temperature_takes_the_argmax():
    model, params = _constant_logits_model()
    got = fn.sampling.sample(model, params, np.array([[0], [4]]), 4, key=jax.random.key(0), temperature=0.0)
    np.testing.assert_array_equal(np.asarray(got), np.zeros((2, 4), int) + int(np.argmax(LOGITS)))
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        fn.sampling.sample(model, params, np.array([[0]]), 1, key=jax.random.key(0), temperature=-1.0)
