"""A dense GAN on MNIST: one functional step, two Adam optimisers, sample grids at checkpoints.

Check: an fnnet MLP classifier labels 1,000 generated digits; every class should get at least 3% of
them (no mode collapse) and the mean top-class probability should be at least 0.9. The full run takes
~10-15 minutes on 2 shared cores; run it in the background (nohup ... > /tmp/gan.log &).

Reproduces: 001_aa06252bb9b8f838.txt, the use-case table (line 47: generative adversarial networks, generating
images).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import fnnet as fn
from experiments import common, mnist_classifier
from fnnet.unsupervised import gan, make_epoch_fn

SOURCE = (
    "001_aa06252bb9b8f838.txt, the use-case table (line 47: generative adversarial networks, generating "
    "images)"
)

DEFAULTS = dict(
    epochs=60,  # passes over the 60,000 training digits
    batch_size=64,
    learning_rate=2e-4,  # Adam with b1=0.5 for both networks (Radford et al. 2015)
    latent_size=64,
    generator_hidden=(256, 512),
    discriminator_hidden=(512, 256),
    label_smoothing=0.1,  # one-sided: real targets are 0.9
    checkpoint_every=10,  # epochs between sample grids
    samples=1000,  # generated digits the classifier labels
    classifier_epochs=4,
    train_size=60000,
    time_limit=None,  # minutes; stop after the epoch that passes it
    ema_decay=0.999,  # decay of the generator's weight average
    minibatch_stddev=1,  # 1: the discriminator also sees its batch's feature spread (Karras et al. 2018)
)


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    for name in ("latent_size", "checkpoint_every", "samples", "classifier_epochs", "train_size"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=DEFAULTS[name])
    parser.add_argument("--label-smoothing", type=float, default=DEFAULTS["label_smoothing"])
    parser.add_argument("--time-limit", type=float, default=DEFAULTS["time_limit"])
    parser.add_argument("--ema-decay", type=float, default=DEFAULTS["ema_decay"])
    parser.add_argument("--minibatch-stddev", type=int, choices=(0, 1), default=DEFAULTS["minibatch_stddev"])
    return parser


def minibatch_stddev(h):
    """``[B, F] -> [B, F + 1]``: append the batch's mean feature spread, so a collapsed batch stands out.

    It couples the examples of a batch (the leading axis), which is what it is for: the discriminator
    sees real and generated batches separately and can tell a batch of near-copies from real digits.
    """
    spread = jnp.mean(jnp.std(h, axis=0))
    return jnp.concatenate([h, jnp.broadcast_to(spread, (*h.shape[:-1], 1))], axis=-1)


def networks(use_minibatch_stddev: bool = True):
    """The generator ``[L] -> [784]`` (tanh, pixels in [-1, 1]) and discriminator ``[784] -> [1]``."""
    leaky = fn.Lambda(fn.activations.leaky_relu, (("negative_slope", 0.2),))
    g_layers, d_layers = [], []
    for size in DEFAULTS["generator_hidden"]:
        g_layers += [fn.Dense(size), leaky]
    for size in DEFAULTS["discriminator_hidden"]:
        d_layers += [fn.Dense(size), leaky]
    if use_minibatch_stddev:
        d_layers.append(minibatch_stddev)
    return fn.Sequential(*g_layers, fn.Dense(784), fn.activations.tanh), fn.Sequential(*d_layers, fn.Dense(1))


def score(generator, g_params, classifier_params, key, n, latent_size):
    """Label ``n`` samples with the classifier: ``(class fractions [10], mean top-class probability)``."""
    samples = gan.sample_generator(generator, g_params, key, n, latent_size)
    probs = np.asarray(
        jax.nn.softmax(fn.predict(mnist_classifier.MODEL, classifier_params, (samples + 1) / 2))
    )
    return np.bincount(probs.argmax(-1), minlength=10) / n, float(probs.max(-1).mean())


def checkpoint(args, folder, generator, carry, classifier_params, key, epoch):
    """Score the raw and the averaged generator; save a grid of the averaged one's samples."""
    point = {"epoch": epoch}
    for name, params in (("raw", carry[0].generator), ("average", carry[1])):
        fractions, top = score(
            generator, params, classifier_params, jax.random.fold_in(key, 8), args.samples, args.latent_size
        )
        point[name] = {
            "min_class_fraction": float(fractions.min()),
            "mean_top_probability": top,
            "class_fractions": fractions.round(3).tolist(),
        }
    samples = gan.sample_generator(generator, carry[1], jax.random.fold_in(key, 7), 64, args.latent_size)
    grid = common.image_grid((samples + 1) / 2, 8, f"epoch {epoch}", vmin=0, vmax=1)
    common.save_figure(grid, folder, f"samples_epoch_{epoch:03d}")
    return point


def main(argv=None) -> dict:
    """Train the GAN, save sample grids at checkpoints, and label 1,000 samples with a classifier."""
    args = build_parser().parse_args(argv)
    common.header(args, "gan_mnist", SOURCE)
    folder = common.output_dir(args, "gan_mnist")
    data = fn.data.load_mnist("mnist", args.data_dir)
    classifier_params, accuracy = mnist_classifier.load_or_train(
        folder, data, args.classifier_epochs, args.seed
    )
    common.report(args, f"classifier test accuracy {accuracy:.4f}")
    x = jnp.asarray(data.x_train[: args.train_size].reshape(-1, 784) * 2 - 1)  # [N, 784] in [-1, 1]
    generator, discriminator = networks(bool(args.minibatch_stddev))
    g_opt = optax.adam(args.learning_rate, b1=0.5)
    d_opt = optax.adam(args.learning_rate, b1=0.5)
    key = jax.random.key(args.seed)
    state = gan.init_gan_state(generator, discriminator, g_opt, d_opt, key, args.latent_size, (784,))
    step = gan.make_gan_step(generator, discriminator, g_opt, d_opt, args.latent_size, args.label_smoothing)

    def step_with_average(carry, batch):
        # an exponential moving average of the generator's weights (Yazici et al. 2019) smooths out the
        # oscillation of adversarial training; both generators are scored
        state, average = carry
        state, logs = step(state, batch)
        return (state, optax.incremental_update(state.generator, average, 1 - args.ema_decay)), logs

    run_epoch = make_epoch_fn(step_with_average, args.batch_size)
    carry = (state, jax.tree.map(jnp.array, state.generator))
    history, checkpoints, started = {}, [], time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        carry, logs = run_epoch(carry, x, jax.random.fold_in(key, 1000 + epoch))
        for name, values in logs.items():
            history.setdefault(name, []).append(float(jnp.mean(values)))
        minutes = (time.perf_counter() - started) / 60
        last = epoch == args.epochs or (args.time_limit is not None and minutes > args.time_limit)
        if epoch % args.checkpoint_every == 0 or last:
            checkpoints.append(checkpoint(args, folder, generator, carry, classifier_params, key, epoch))
            checkpoints[-1]["minutes"] = minutes
            scores = "".join(
                f"; {g}: min fraction {checkpoints[-1][g]['min_class_fraction']:.3f}, mean top "
                f"{checkpoints[-1][g]['mean_top_probability']:.3f}"
                for g in ("raw", "average")
            )
            losses = ", ".join(f"{k} {v[-1]:.3f}" for k, v in history.items())
            common.report(args, f"epoch {epoch} ({minutes:.1f} min): {losses}{scores}")
        if last:
            break
    leaves = jax.tree_util.tree_leaves_with_path(carry[1])  # the averaged generator, "0/kernel": array
    np.savez(folder / "generator.npz", **{"/".join(k.key for k in path): np.asarray(v) for path, v in leaves})
    final = checkpoints[-1]["average"]
    metrics = {
        "epochs": epoch,
        "minutes": (time.perf_counter() - started) / 60,
        "classifier_test_accuracy": accuracy,
        **final,
        "raw_generator": checkpoints[-1]["raw"],
        "checkpoints": checkpoints,
        "final_losses": {k: v[-1] for k, v in history.items()},
    }
    metrics["passes"] = final["min_class_fraction"] >= 0.03 and final["mean_top_probability"] >= 0.9
    fig, axes = common.subplots(1, 2, figsize=(10, 3.5))
    axes[0].bar(range(10), final["class_fractions"])
    axes[0].axhline(0.03, color="r", ls="--")
    axes[0].set(title="classifier labels of generated digits", xlabel="digit", ylabel="fraction")
    common.plot_curves(
        axes[1], {name: history[name] for name in ("d_loss", "g_loss")}, title="losses per epoch"
    )
    common.save_figure(fig, folder, "class_coverage_and_losses")
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
