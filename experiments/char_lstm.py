"""A character-level LSTM language model on tiny-shakespeare: validation bits/character, samples.

The corpus is split in time order (the first 90% for training, the rest for validation), cut into
windows of ``--seq-len`` characters whose targets are the next characters. The training budget is
``--epochs`` passes over the training windows. Reports validation bits per character after each
epoch, then prints text sampled at several temperatures.

Reproduces: 001_aa06252bb9b8f838.txt, the use-case table (line 45: RNN/LSTM for sentence prediction) and
003_57e07c46f1bd5fd4.txt, "RNN Use Cases" (line 721).
"""

from __future__ import annotations

import math

import jax
import numpy as np
import optax

import fnnet as fn
from experiments import common
from fnnet.data import CharVocabulary, language_model_windows, load_text

SOURCE = (
    "001_aa06252bb9b8f838.txt, the use-case table (line 45: RNN/LSTM for sentence prediction) and "
    '003_57e07c46f1bd5fd4.txt, "RNN Use Cases" (line 721)'
)

# Defaults (each is a command-line option).
DEFAULTS = dict(
    epochs=10,  # ~1,570 steps of 64 windows of 100 characters
    batch_size=64,
    learning_rate=2e-3,
    seq_len=100,
    embed=64,  # character embedding size
    hidden_size=256,  # LSTM state size
    sample_chars=400,
)
TEMPERATURES = (0.5, 0.8, 1.0)  # of the printed samples
BITS = math.log(2)  # nats per bit: the loss is in nats


def build_parser():
    """The options of this experiment."""
    parser = common.base_parser(__doc__.splitlines()[0], **DEFAULTS)
    for name in ("seq_len", "embed", "hidden_size", "sample_chars"):
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=DEFAULTS[name])
    parser.add_argument("--prompt", default="ROMEO:\n")
    return parser


def main(argv=None) -> dict:
    """Train the language model, report validation bits per character and sampled text."""
    args = build_parser().parse_args(argv)
    common.header(args, "char_lstm", SOURCE)
    out = common.output_dir(args, "char_lstm")
    text = load_text(None if args.data_dir is None else f"{args.data_dir}/text/tinyshakespeare/input.txt")
    vocab = CharVocabulary.from_text(text)
    ids = vocab.encode(text)
    cut = int(0.9 * len(ids))
    x_train, y_train = language_model_windows(ids[:cut], args.seq_len)
    x_val, y_val = language_model_windows(ids[cut:], args.seq_len)
    model = fn.Sequential(
        fn.Embedding(vocab.size, args.embed),
        fn.RNN(fn.LSTMCell(args.hidden_size)),
        fn.Dense(vocab.size),
    )
    steps = args.epochs * (len(x_train) // args.batch_size)
    schedule = optax.cosine_decay_schedule(args.learning_rate, steps, alpha=0.1)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))

    log = common.epoch_logger(
        args,
        lambda logs: f"train {logs['loss'] / BITS:.3f} bpc, validation {logs['val_loss'] / BITS:.3f} bpc",
    )
    result = fn.fit(
        model, fn.losses.softmax_cross_entropy, optimizer, x_train, y_train,
        key=jax.random.key(args.seed), epochs=args.epochs, batch_size=args.batch_size,
        validation_data=(x_val, y_val), callbacks=[log],
    )  # fmt: skip
    history = result.history
    params = result.state.params
    bpc = [v / BITS for v in history["val_loss"]]
    prompt = np.tile(vocab.encode(args.prompt)[None, :], (2, 1))
    samples = {}
    for i, t in enumerate(TEMPERATURES):
        key = jax.random.key(args.seed + 1 + i)
        tokens = fn.sampling.sample(model, params, prompt, args.sample_chars, key=key, temperature=t)
        samples[str(t)] = [args.prompt + vocab.decode(row) for row in np.asarray(tokens)]
        common.report(args, f"--- temperature {t} ---", samples[str(t)][0], "")
    metrics = {
        "val_bits_per_char": bpc[-1],
        "budget": f"{result.steps} steps of {args.batch_size} x {args.seq_len} characters "
        f"({args.epochs} epochs), {sum(history['seconds']):.0f} s",
        "history_val_bpc": bpc,
        "history_train_bpc": [v / BITS for v in history["loss"]],
        "vocabulary_size": vocab.size,
        "samples": samples,
    }
    common.report(args, f"validation bits per character: {bpc[-1]:.3f} after {metrics['budget']}")

    fig, ax = common.subplots(figsize=(5, 3.2))
    curves = {"train": metrics["history_train_bpc"], "validation": bpc}
    common.plot_curves(ax, curves, ylabel="bits per character", title="char LSTM on tiny-shakespeare")
    common.save_figure(fig, out, "char_lstm_bpc")
    (out / "samples.txt").write_text("\n\n".join(f"[T={t}]\n{s[0]}" for t, s in samples.items()))
    common.save_metrics(out, metrics)
    return metrics


if __name__ == "__main__":
    main()
