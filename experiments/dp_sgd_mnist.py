"""DP-SGD on MNIST: per-example clipping plus Gaussian noise, against the same non-private training.

Both runs train the same MLP with the same optimizer, batches and initial parameters; the private
one clips each example's gradient to L2 norm ``--l2-norm-clip`` and adds noise of standard deviation
``--noise-multiplier * --l2-norm-clip`` to the summed gradient (Abadi et al. 2016). Reports test
accuracy per epoch for both and epsilon from the RDP accountant at ``--delta``.

Beyond the course: Abadi et al. 2016, "Deep Learning with Differential Privacy" (not a lesson of the course).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import optax

import fnnet as fn
from experiments import common
from fnnet.training.epochs import EpochPlan
from fnnet.training.privacy import make_dp_step_fn, rdp_epsilon

SOURCE = 'Abadi et al. 2016, "Deep Learning with Differential Privacy" (not a lesson of the course)'

# Defaults (each is a command-line option).
DEFAULTS = dict(
    epochs=3,  # passes over the training set
    batch_size=256,  # examples per step (the sampling rate is batch_size / N)
    learning_rate=0.1,  # SGD step size, shared by both runs
    hidden=256,  # width of the hidden layer of the 784-hidden-10 MLP
    l2_norm_clip=1.0,  # per-example gradient norm bound C
    noise_multiplier=1.1,  # sigma: noise std is sigma * C on the summed gradient
    delta=1e-5,  # the delta of (epsilon, delta)-DP
    train_size=60000,  # use the first N training images (smaller for a quick run)
)


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    for name in ("hidden", "train_size"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=DEFAULTS[name])
    for name in ("l2_norm_clip", "noise_multiplier", "delta"):
        parser.add_argument("--" + name.replace("_", "-"), type=float, default=DEFAULTS[name])
    return parser


def train(step, state, data, args, label):
    """Shuffled epochs, each one jitted ``lax.scan`` over its batches; test accuracy per epoch."""
    x, y, x_test, y_test = data

    @jax.jit
    def epoch(state, x, y, rows):  # data as arguments, not constants baked into the program
        return jax.lax.scan(lambda s, r: step(s, (x[r], y[r])), state, rows)

    plan = EpochPlan(len(x), args.batch_size, jax.random.key(args.seed))  # fit's shuffling rule
    accuracies, started = [], time.perf_counter()
    for e in range(args.epochs):
        state, logs = epoch(state, x, y, plan.rows(plan.epoch_key(e)))
        out = fn.predict(model_of(args), state.params, x_test)
        accuracies.append(float(jnp.mean(jnp.argmax(out, -1) == y_test)))
        loss = float(jnp.mean(logs["loss"]))
        common.report(args, f"{label} epoch {e + 1}: loss {loss:.4f}, test accuracy {accuracies[-1]:.4f}")
    common.report(
        args, f"{label}: test accuracy {accuracies[-1]:.4f} ({time.perf_counter() - started:.1f} s)"
    )
    return accuracies, time.perf_counter() - started


def model_of(args):
    """The 784-hidden-10 ReLU MLP both runs train."""
    return fn.Sequential(fn.Dense(args.hidden), fn.activations.relu, fn.Dense(10))


def main(argv=None) -> dict:
    """Train the same MLP without and with DP-SGD; report both accuracies and the privacy budget."""
    args = build_parser().parse_args(argv)
    common.header(args, "dp_sgd_mnist", SOURCE, beyond_course=True)
    mnist = fn.data.load_mnist("mnist", args.data_dir)
    x = jnp.asarray(mnist.x_train[: args.train_size].reshape(-1, 784))
    y = jnp.asarray(mnist.y_train[: args.train_size])
    data = (x, y, mnist.x_test.reshape(-1, 784), mnist.y_test)
    model, loss = model_of(args), fn.losses.softmax_cross_entropy
    optimizer = optax.sgd(args.learning_rate)
    state = fn.init_train_state(model, optimizer, jax.random.key(args.seed), (784,))
    plain = fn.make_step_fn(model, loss, optimizer)
    private = make_dp_step_fn(
        model, loss, optimizer,
        l2_norm_clip=args.l2_norm_clip, noise_multiplier=args.noise_multiplier,
    )  # fmt: skip
    acc_plain, sec_plain = train(plain, state, data, args, "non-private")
    acc_dp, sec_dp = train(private, state, data, args, "DP-SGD")
    steps = args.epochs * (len(x) // args.batch_size)
    epsilon = rdp_epsilon(args.noise_multiplier, args.batch_size / len(x), steps, args.delta)
    common.report(args, f"DP-SGD: epsilon {epsilon:.2f} at delta {args.delta:g} after {steps} steps")

    folder = common.output_dir(args, "dp_sgd_mnist")
    fig, ax = common.subplots(figsize=(5, 3.5))
    curves = {
        "non-private SGD": acc_plain,
        f"DP-SGD (sigma={args.noise_multiplier}, eps={epsilon:.2f})": acc_dp,
    }
    common.plot_curves(
        ax, curves, ylabel="test accuracy", title="MNIST MLP: private vs non-private", marker="o"
    )
    common.save_figure(fig, folder, "accuracy")
    metrics = {
        "test_accuracy_non_private": acc_plain[-1],
        "test_accuracy_dp_sgd": acc_dp[-1],
        "accuracy_per_epoch_non_private": acc_plain,
        "accuracy_per_epoch_dp_sgd": acc_dp,
        "epsilon": epsilon,
        "delta": args.delta,
        "noise_multiplier": args.noise_multiplier,
        "l2_norm_clip": args.l2_norm_clip,
        "steps": steps,
        "seconds_non_private": sec_plain,
        "seconds_dp_sgd": sec_dp,
    }
    common.save_metrics(folder, metrics)
    return metrics


if __name__ == "__main__":
    main()
