"""What every peer shares: the model spec, synthetic data, the built entry and the JAX train step.

Every framework builds the same four architectures (MLP, CNN, LSTM and GRU classifiers) from a
``Spec`` and returns a ``Built``: its trainable parameter count and per-example output shape
(checked against fnnet's before anything is timed) and how to run one train step (Adam 1e-3, softmax
cross-entropy computed in float32 on the logits).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

MODELS = ("mlp", "cnn", "lstm", "gru")
HIDDEN = 128  # LSTM/GRU hidden size
FEATURES = 32  # LSTM/GRU input features per time step
CLASSES = 10
LEARNING_RATE = 1e-3
DTYPES = ("float32", "bfloat16", "mixed_bfloat16")
# mixed precision policies: float32 parameters, optimizer state and inputs; the model computes in the
# policy's dtype (fnnet.precision.Mixed, a cast inside the hand-written step, torch.autocast)
POLICIES = {"mixed_bfloat16": "bfloat16"}


def compute_dtype(dtype: str) -> str:
    """The dtype a Spec's model computes in: ``"bfloat16"`` for ``"mixed_bfloat16"``, else ``dtype``."""
    return POLICIES.get(dtype, dtype)


@dataclasses.dataclass(frozen=True)
class Spec:
    """One benchmark configuration.

    Attributes:
        model: ``"mlp"`` (784-512-512-10), ``"cnn"`` (28x28x1, two conv3x3+relu+maxpool2, dense 128,
            dense 10), ``"lstm"`` or ``"gru"`` (``[B, T, 32]`` -> hidden 128 -> last state ->
            dense 10).
        dtype: ``"float32"`` or ``"bfloat16"`` (parameters, optimizer state and inputs), or the policy
            ``"mixed_bfloat16"``: float32 parameters, optimizer state and inputs, bfloat16 compute.
        batch: examples per step.
        seq_len: time steps T for the recurrent models (ignored by the others).
    """

    model: str
    dtype: str = "float32"
    batch: int = 128
    seq_len: int = 100

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"Spec: model must be one of {MODELS}, got {self.model!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"Spec: dtype must be one of {DTYPES}, got {self.dtype!r}")

    @property
    def in_shape(self) -> tuple[int, ...]:
        """The per-example input shape."""
        return {"mlp": (784,), "cnn": (28, 28, 1)}.get(self.model, (self.seq_len, FEATURES))

    def label(self) -> str:
        """A short name: ``lstm/float32/b32/t100``."""
        tail = f"/t{self.seq_len}" if self.model in ("lstm", "gru") else ""
        return f"{self.model}/{self.dtype}/b{self.batch}{tail}"


GATES = {"lstm": 4, "gru": 3}


def recurrent_step_flops(spec: Spec) -> int:
    """A recurrent classifier's train-step matmul FLOPs, counted by hand.

    Per time step the ``G`` gates need an input matmul ``2 B F G H`` and a recurrent one
    ``2 B H G H``. Forward: ``T`` of each, then the ``H -> 10`` head. Backward: the weight gradient
    of every matmul, the state gradient of every recurrent matmul but the first (its state is the
    zero initial state) and of the head; no input gradient (the inputs are data). XLA's cost
    analysis cannot be used: it counts a scan's body once.
    """
    b, t, gates = spec.batch, spec.seq_len, GATES[spec.model]
    inputs, recurrent = 2 * b * FEATURES * gates * HIDDEN, 2 * b * HIDDEN * gates * HIDDEN
    head = 2 * b * HIDDEN * CLASSES
    return 2 * t * (inputs + recurrent) + max(t - 1, 0) * recurrent + 3 * head


def make_data(spec: Spec, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic float32 inputs ``[B, *in_shape]`` in [0, 1) and int32 labels ``[B]``."""
    rng = np.random.default_rng(seed)
    x = rng.random((spec.batch, *spec.in_shape), dtype=np.float32)
    y = rng.integers(0, CLASSES, spec.batch).astype(np.int32)
    return x, y


@dataclasses.dataclass
class Built:
    """A framework's model for one Spec, ready to time.

    Attributes:
        param_count: the number of trainable scalars.
        out_shape: the per-example output shape (``(10,)``).
        step: JAX peers: a jitted ``step(state, *batch) -> (state, loss)`` donating ``state``.
        args: JAX peers: ``(state, *batch)``.
        call: non-JAX peers: one train step, returning something ``sync`` waits on.
        sync: non-JAX peers: waits for ``call``'s work.
        note: how this peer was written, for the report.
    """

    param_count: int
    out_shape: tuple[int, ...]
    step: Callable | None = None
    args: tuple = ()
    call: Callable[[], Any] | None = None
    sync: Callable[[Any], Any] | None = None
    note: str = ""


def compiled_step(built: Built) -> tuple[Callable[[], Any], Any]:
    """``(call, compiled)`` for a JAX peer: its step compiled ahead of time, and ``call()`` running one
    step that carries the donated state on to the next call (it returns the outputs without waiting).
    """
    compiled, args = built.step.lower(*built.args).compile(), list(built.args)

    def call():
        out = compiled(*args)
        args[0] = out[0]
        return out

    return call, compiled


def blocking_step(built: Built) -> Callable[[], Any]:
    """``built``'s train step as a thunk that runs one step and waits for it (any framework)."""
    if built.step is None:
        return lambda: built.sync(built.call())
    import jax

    call, _ = compiled_step(built)
    return lambda: jax.block_until_ready(call())


def jax_count(params) -> int:
    """Scalars in a JAX pytree of arrays."""
    import jax

    return int(sum(np.size(leaf) for leaf in jax.tree.leaves(params)))


def jax_built(apply: Callable, init: Callable, spec: Spec, note: str = "", abstract: bool = False) -> Built:
    """The standard hand-written JAX train step around ``apply(params, x) -> logits``.

    Adam (optax) and softmax cross-entropy in float32; the state ``(params, opt_state)`` is donated.
    ``init(key) -> params`` (float32) is compiled as one computation. Under a policy (``POLICIES``) the
    params stay float32 and are cast, with the inputs, to the compute dtype inside the loss. With
    ``abstract=True`` only the parameter count and output shape are found, by shape inference (nothing is
    run).
    """
    import jax
    import jax.numpy as jnp
    import optax

    optimizer = optax.adam(LEARNING_RATE)
    policy = spec.dtype in POLICIES
    stored = "float32" if policy else spec.dtype

    def init_state(key):
        params = jax.tree.map(lambda a: a.astype(stored), init(key))
        return params, optimizer.init(params)

    def loss_fn(p, x, y):
        if policy:
            p, x = jax.tree.map(lambda a: a.astype(compute_dtype(spec.dtype)), (p, x))
        logits = apply(p, x).astype(jnp.float32)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(state, x, y):
        p, opt_state = state
        loss, grads = jax.value_and_grad(loss_fn)(p, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, p)
        return (optax.apply_updates(p, updates), opt_state), loss

    if abstract:
        params = jax.eval_shape(init_state, jax.random.key(0))[0]
        out = jax.eval_shape(apply, params, jax.ShapeDtypeStruct((1, *spec.in_shape), stored))
        return Built(param_count=jax_count(params), out_shape=tuple(out.shape[1:]), note=note)
    x, y = make_data(spec)
    x = jnp.asarray(x).astype(stored)
    state = jax.jit(init_state)(jax.random.key(0))  # one compile, not one per eager op
    out = jax.eval_shape(apply, state[0], x[:1])
    return Built(
        param_count=jax_count(state[0]),
        out_shape=tuple(out.shape[1:]),
        step=jax.jit(step, donate_argnums=0),
        args=(state, x, jnp.asarray(y)),
        note=note,
    )
