"""The GAN step against PyTorch with copied weights, shape errors, and learning on an MNIST subset."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import fnnet as fn
from fnnet.unsupervised import gan

LATENT = 2


def torch_gan_step(g, d, real, z_d, z_g, lr, smoothing):
    """One step by hand in PyTorch: D on real + detached fakes, then G through the updated D."""
    w_g, b_g, w_d, b_d = (torch.tensor(np.asarray(a), requires_grad=True) for a in g + d)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    real, z_d, z_g = (torch.tensor(np.asarray(a)) for a in (real, z_d, z_g))
    fake = (z_d @ w_g + b_g).detach()
    real_logits, fake_logits = real @ w_d + b_d, fake @ w_d + b_d
    d_loss = bce(real_logits, torch.full_like(real_logits, 1 - smoothing)) + bce(
        fake_logits, torch.zeros_like(fake_logits)
    )
    d_loss.backward()
    with torch.no_grad():
        w_d -= lr * w_d.grad
        b_d -= lr * b_d.grad
    logits = (z_g @ w_g + b_g) @ w_d + b_d
    g_loss = bce(logits, torch.ones_like(logits))
    g_loss.backward()
    with torch.no_grad():
        w_g -= lr * w_g.grad
        b_g -= lr * b_g.grad
    return [t.detach().numpy() for t in (w_g, b_g, w_d, b_d)], d_loss.item(), g_loss.item()


def test_one_step_matches_pytorch():
    generator, discriminator = fn.Dense(3), fn.Dense(1)
    state = gan.init_gan_state(
        generator, discriminator, optax.sgd(0.1), optax.sgd(0.1), jax.random.key(0), LATENT, (3,)
    )
    real = jax.random.uniform(jax.random.key(1), (8, 3))
    step = gan.make_gan_step(generator, discriminator, optax.sgd(0.1), optax.sgd(0.1), LATENT, 0.1)
    new, logs = jax.jit(step)(state, real)
    d_key, g_key, _ = jax.random.split(state.key, 3)  # the documented key convention
    z_d, z_g = gan.latent_noise(d_key, 8, LATENT), gan.latent_noise(g_key, 8, LATENT)
    g = [state.generator["kernel"], state.generator["bias"]]
    d = [state.discriminator["kernel"], state.discriminator["bias"]]
    want, d_loss, g_loss = torch_gan_step(g, d, real, z_d, z_g, 0.1, 0.1)
    got = [new.generator[k] for k in ("kernel", "bias")] + [new.discriminator[k] for k in ("kernel", "bias")]
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert float(logs["d_loss"]) == pytest.approx(d_loss, rel=1e-5)
    assert float(logs["g_loss"]) == pytest.approx(g_loss, rel=1e-5)
    assert int(new.step) == 1


def test_shape_errors_name_the_network():
    with pytest.raises(fn.ShapeError, match=r"generator maps \[2\] to \[4\], but the data are \[3\]"):
        gan.init_gan_state(fn.Dense(4), fn.Dense(1), optax.sgd(1), optax.sgd(1), jax.random.key(0), 2, (3,))
    with pytest.raises(fn.ShapeError, match=r"discriminator must output one logit \[1\], got \[2\]"):
        gan.init_gan_state(fn.Dense(3), fn.Dense(2), optax.sgd(1), optax.sgd(1), jax.random.key(0), 2, (3,))


def test_gan_learns_on_an_mnist_subset(data_dir):
    x = jnp.asarray(fn.data.load_mnist("mnist", data_dir).x_train[:2048].reshape(2048, 784)) * 2 - 1
    latent = 16
    leaky = fn.Lambda(fn.activations.leaky_relu, (("negative_slope", 0.2),))
    generator = fn.Sequential(fn.Dense(128), leaky, fn.Dense(784), fn.activations.tanh)  # pixels in [-1, 1]
    discriminator = fn.Sequential(fn.Dense(128), leaky, fn.Dense(1))
    g_opt, d_opt = optax.adam(1e-3, b1=0.5), optax.adam(1e-3, b1=0.5)
    state = gan.init_gan_state(generator, discriminator, g_opt, d_opt, jax.random.key(0), latent, (784,))
    step = gan.make_gan_step(generator, discriminator, g_opt, d_opt, latent, label_smoothing=0.1)
    run_epoch = fn.unsupervised.make_epoch_fn(step, 64)

    def sample_stats(params):
        s = gan.sample_generator(generator, params, jax.random.key(9), 512, latent)
        return float(jnp.mean(jnp.square(s.mean(0) - x.mean(0)))), float(jnp.mean(s.std(0)))

    start_gap, _ = sample_stats(state.generator)
    for epoch in range(10):
        state, logs = run_epoch(state, x, jax.random.key(epoch))
        assert all(bool(jnp.all(jnp.isfinite(v))) for v in logs.values())
    end_gap, spread = sample_stats(state.generator)
    assert end_gap < 0.2 * start_gap  # the samples' mean image moved to the digits' mean image
    assert spread > 0.3 * float(jnp.mean(x.std(0)))  # not collapsed onto one image
    last = {name: float(jnp.mean(v[-10:])) for name, v in logs.items()}
    assert last["d_fake"] > 0.05 and last["d_real"] < 0.98  # the discriminator has not won outright


@pytest.mark.slow
def test_gan_experiment_covers_every_digit_confidently(tmp_path, data_dir):
    """The issue's check (about 15 minutes on 2 shared cores)."""
    from experiments import gan_mnist

    metrics = gan_mnist.main(["--out-dir", str(tmp_path), "--quiet"])
    assert metrics["min_class_fraction"] >= 0.03
    assert metrics["mean_top_probability"] >= 0.9
    assert (tmp_path / "gan_mnist" / "samples_epoch_010.png").stat().st_size > 5000
