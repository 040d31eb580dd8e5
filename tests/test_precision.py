"""Mixed precision (``fnnet.precision``): every layer family under ``Mixed(model, "mixed_bfloat16")`` gives
the float32 model's outputs and gradients to bfloat16's tolerance, computes in bfloat16 and keeps float32
parameters, gradients and normalisation statistics; dynamic loss scaling follows jmp's rule; training under
the policy reaches the float32 model's accuracy."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from registry import CASES

import fnnet as fn
from fnnet.precision import DynamicLossScale, Mixed, Policy, all_finite, full_precision, get_policy

BF16_EPS = 2.0**-8  # bfloat16's machine epsilon (8 bits of mantissa)
OUT_TOL = 8 * BF16_EPS  # max error over max |output|: a few roundings through a layer or two
GRAD_TOL = 16 * BF16_EPS  # norm of the error over the norm of the gradient: roundings forward and back

BY_NAME = {c.name: c for c in CASES}
# one or two per family in the default run; the whole registry under -m slow
FAST = ["dense", "conv2d_xla", "conv_transpose", "rnn_simple", "rnn_lstm_last", "rnn_gru_fused", "embedding",
        "batch_norm_train", "layer_norm"]  # fmt: skip
# GaussianNoise draws its noise in the compute dtype (another sample); the perceptron's step is discontinuous
LEFT_OUT = ("gaussian_noise_training", "perceptron")
OTHERS = [c.name for c in CASES if c.name not in FAST and c.name not in LEFT_OUT]


def _inputs(case, batch=(4,)):
    rng = np.random.default_rng(1)
    shape = (*batch, *case.in_shape)
    if case.int_inputs is not None:
        return jnp.asarray(rng.integers(0, case.int_inputs, shape, dtype=np.int32))
    return jnp.asarray(rng.standard_normal(shape, dtype=np.float32))


def _run(layer, case, params, state, x):
    key = jax.random.key(2) if case.training else None
    return layer.apply_with_state(params, state, x, key=key, training=case.training)[0]


def _relative(got, want):
    want, got = np.asarray(want, np.float64), np.asarray(got, np.float64)
    return np.linalg.norm((got - want).ravel()) / max(np.linalg.norm(want.ravel()), 1e-30)


def _outputs_and_grads(layer, case, params, state, x):
    """``(y, grads)`` of a nonlinear read-out of ``y`` (so every output's gradient differs), in one jitted
    call: by params, and by the inputs too when they are floats."""
    argnums = (0, 1) if jnp.issubdtype(x.dtype, jnp.floating) else 0

    def both(p, xx):
        y = _run(layer, case, p, state, xx)
        return jnp.sum(jnp.sin(y)), y

    (_, y), grads = jax.jit(jax.value_and_grad(both, argnums, has_aux=True))(params, x)
    return y, grads


def _check_against_float32(name):
    case = BY_NAME[name]
    mixed = Mixed(case.layer)
    _, params = case.layer.init(jax.random.key(0), case.in_shape)
    _, mixed_params = mixed.init(jax.random.key(0), case.in_shape)
    assert jax.tree.structure(mixed_params) == jax.tree.structure(params)  # same names: params load both ways
    for a, b in zip(jax.tree.leaves(mixed_params), jax.tree.leaves(params), strict=True):
        assert a.dtype == b.dtype == jnp.float32
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    state = case.layer.init_state(case.in_shape)
    x = _inputs(case)
    want, want_g = _outputs_and_grads(case.layer, case, params, state, x)
    got, got_g = _outputs_and_grads(mixed, case, params, state, x)
    assert got.dtype == jnp.float32 and got.shape == want.shape
    scale = float(jnp.max(jnp.abs(want)))
    assert float(jnp.max(jnp.abs(got - want))) <= OUT_TOL * scale, name
    assert not np.array_equal(np.asarray(got), np.asarray(want)), "the mixed model computed in float32"
    for w, g in zip(jax.tree.leaves(want_g), jax.tree.leaves(got_g), strict=True):
        assert g.dtype == w.dtype == jnp.float32  # gradients in the parameters' (inputs') dtype
        assert _relative(g, w) <= GRAD_TOL, name


@pytest.mark.parametrize("name", FAST)
def test_every_layer_family_matches_float32_to_bfloat16_tolerance(name):
    _check_against_float32(name)


@pytest.mark.slow  # ~40 cases, about 60 s on 2 cores
@pytest.mark.parametrize("name", OTHERS)
def test_the_rest_of_the_registry_matches_float32_too(name):
    _check_against_float32(name)


def _primitive_dtypes(jaxpr, names):
    """``[(primitive, [input dtypes])]`` for every equation named in ``names``, nested jaxprs included."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in names:
            found.append((eqn.primitive.name, [str(v.aval.dtype) for v in eqn.invars]))
        for value in eqn.params.values():
            for sub in value if isinstance(value, tuple | list) else [value]:
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    found += _primitive_dtypes(inner, names)
    return found


def test_matmuls_and_convolutions_run_in_bfloat16_and_batch_statistics_in_float32():
    layers = (fn.Conv(4, (3, 3)), fn.BatchNorm(), fn.Flatten(), fn.Dense(5), fn.LayerNorm(), fn.Dense(3))
    model = Mixed(fn.Sequential(*layers))
    _, params = model.init(jax.random.key(0), (6, 6, 2))
    state = model.init_state((6, 6, 2))
    x = jnp.ones((2, 6, 6, 2))
    grad_jaxpr = jax.make_jaxpr(
        jax.grad(lambda p: jnp.sum(model.apply_with_state(p, state, x, training=True)[0]))
    )(params).jaxpr
    heavy = _primitive_dtypes(grad_jaxpr, {"dot_general", "conv_general_dilated"})
    assert len(heavy) >= 9  # 3 forward, and 2 gradients each (weights, inputs) backward
    assert all(dtypes == ["bfloat16", "bfloat16"] for _, dtypes in heavy), heavy
    forward = jax.make_jaxpr(lambda p: model.apply_with_state(p, state, x, training=True)[0])(params).jaxpr
    sums = _primitive_dtypes(forward, {"reduce_sum"})  # the forward pass sums only for statistics
    assert len(sums) == 4 and all(d == ["float32"] for _, d in sums), sums  # BatchNorm's 2, LayerNorm's 2
    y, new_state = model.apply_with_state(params, state, x, training=True)
    assert y.dtype == jnp.float32
    assert all(a.dtype == jnp.float32 for a in jax.tree.leaves(new_state))


def test_normalisation_of_half_inputs_is_float32_inside_and_matches_numpy():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 3)) * 0.01 + 100.0).astype(np.float32)  # a large mean, small spread
    params = {"scale": jnp.ones(3), "offset": jnp.zeros(3)}
    xb = jnp.asarray(x).astype(jnp.bfloat16)
    xr = np.asarray(xb.astype(jnp.float32), np.float64)  # the rounded inputs, normalised in float64
    want = (xr - xr.mean(0)) / np.sqrt(xr.var(0) + 1e-5)
    y, state = fn.BatchNorm().apply_with_state(params, fn.BatchNorm().init_state((3,)), xb, training=True)
    assert y.dtype == jnp.bfloat16 and state["mean"].dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y, np.float64), want, atol=4 * BF16_EPS * np.abs(want).max())
    np.testing.assert_allclose(np.asarray(state["mean"]), 0.1 * xr.mean(0), rtol=1e-6)
    want_ln = (xr - xr.mean(1, keepdims=True)) / np.sqrt(xr.var(1, keepdims=True) + 1e-5)
    y_ln = fn.LayerNorm().apply(params, xb)
    assert y_ln.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.float64(y_ln), want_ln, atol=4 * BF16_EPS * np.abs(want_ln).max())


def test_policy_names_follow_keras_and_jmp():
    assert get_policy("mixed_bfloat16") == Policy("float32", "bfloat16", "float32")
    assert get_policy("mixed_float16") == Policy("float32", "float16", "float32")
    assert get_policy("bf16") == Policy("bfloat16", "bfloat16", "bfloat16")
    assert get_policy("c=f16") == Policy("float32", "float16", "float16")  # jmp: output follows compute
    assert get_policy("params=float32,compute=bfloat16,output=float32") == get_policy("mixed_bfloat16")
    assert Policy(jnp.float32, jnp.bfloat16, np.float32).compute_dtype == "bfloat16"
    with pytest.raises(ValueError, match="unknown policy 'mixed_int8'"):
        get_policy("mixed_int8")
    with pytest.raises(ValueError, match="unknown key 'weights'"):
        get_policy("weights=float32")
    with pytest.raises(ValueError, match="compute_dtype must be a floating dtype.*int32"):
        Policy("float32", "int32")
    tree = {"w": jnp.ones(2), "n": jnp.arange(2), "s": 1.0}
    cast = get_policy("mixed_bfloat16").cast_to_compute(tree)
    assert cast["w"].dtype == jnp.bfloat16 and cast["n"].dtype == jnp.int32 and cast["s"] == 1.0
    assert full_precision(cast)["w"].dtype == jnp.float32


def test_mixed_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match="loss_scale must be a DynamicLossScale, None or 'auto'"):
        Mixed(fn.Dense(2), loss_scale="dynamic")
    with pytest.raises(fn.ShapeError, match=r"Mixed > Sequential\[0\].*Dense"):
        model = Mixed(fn.Sequential(fn.Dense(2)))
        model.apply(model.init(jax.random.key(0), (3,))[1], jnp.ones((1, 4)))
    scaled = Mixed(fn.Dense(2), "mixed_float16")
    with pytest.raises(fn.ShapeError, match="expected the state"):
        scaled.apply_with_state({}, {"mean": jnp.zeros(2)}, jnp.ones((1, 3)))
    nested = fn.Sequential(fn.Dense(3), Mixed(fn.Dense(2), "mixed_float16"))
    with pytest.raises(ValueError, match="only the outermost layer can carry"):
        fn.make_step_fn(nested, fn.losses.mean_squared_error, optax.sgd(0.1))
    with pytest.raises(ValueError, match="metric name 'skipped' is loss scaling's own log"):
        fn.make_step_fn(scaled, fn.losses.mean_squared_error, optax.sgd(0.1), {"skipped": jnp.mean})
    assert Mixed(fn.Dense(2), "mixed_bfloat16").loss_scale is None  # "auto": scaling for float16 only
    assert scaled.loss_scale == DynamicLossScale() and repr(scaled).startswith("Mixed(Dense(features=2)")


def test_a_layer_refuses_a_dtype_argument_and_points_to_mixed():
    for name in ("dtype", "param_dtype", "compute_dtype"):
        with pytest.raises(TypeError, match=rf"Dense takes no {name}.*fnnet.precision.Mixed"):
            fn.Dense(4, **{name: jnp.bfloat16})
    with pytest.raises(TypeError, match=r"Conv takes no dtype.*fnnet.precision.Mixed"):
        fn.Conv(4, (3, 3), dtype="float16")
    with pytest.raises(TypeError, match="unexpected keyword argument 'units'"):  # other typos: Python's own
        fn.Dense(units=4)


def _jmp_reference(flags, scale, period, factor, min_scale):
    """jmp's DynamicLossScale pseudocode (its docstring), in plain Python."""
    counter, scales = 0, []
    for finite in flags:
        if finite:
            counter += 1
            if counter == period:
                counter, scale = 0, scale * factor
        else:
            counter, scale = 0, max(min_scale, scale / factor)
        scales.append((scale, counter))
    return scales


def test_dynamic_loss_scale_follows_jmps_rule():
    rule = DynamicLossScale(initial_scale=8.0, period=3, factor=2.0, min_scale=2.0)
    flags = np.random.default_rng(0).random(60) < 0.75
    adjust = jax.jit(rule.adjust)
    state, got = rule.init(), []
    for finite in flags:
        state = adjust(state, jnp.asarray(finite))
        got.append((float(state["scale"]), int(state["counter"])))
    assert got == _jmp_reference(flags, 8.0, 3, 2.0, 2.0)
    assert all_finite({"a": jnp.ones(2), "b": jnp.array([1.0, jnp.inf])}).item() is False
    with pytest.raises(ValueError, match="period must be a positive int"):
        DynamicLossScale(period=0)


def _tiny(scale, policy="mixed_float16", period=2000):
    model = Mixed(fn.Sequential(fn.Dense(4), fn.activations.tanh, fn.BatchNorm(), fn.Dense(2)), policy,
                  DynamicLossScale(initial_scale=scale, period=period))  # fmt: skip
    optimizer = optax.adam(1e-2)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((8, 3), dtype=np.float32))
    y = jnp.asarray(rng.integers(0, 2, 8, dtype=np.int32))
    state = fn.init_train_state(model, optimizer, jax.random.key(0), (3,))
    step = jax.jit(fn.make_step_fn(model, fn.losses.softmax_cross_entropy, optimizer))
    return model, state, step, (x, y)


def test_an_overflowing_step_is_skipped_and_the_scale_halved():
    _, state, step, batch = _tiny(2.0**40)  # 2**40 times any gradient overflows float16 (max 65504)
    new, logs = step(state, batch)
    assert bool(logs["finite"]) and bool(logs["skipped"]) and float(logs["loss_scale"]) == 2.0**40
    for before, after in [(state.params, new.params), (state.opt_state, new.opt_state),
                          (state.model_state["model"], new.model_state["model"])]:  # fmt: skip
        for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # bit for bit: the step was skipped
    assert float(new.model_state["loss_scale"]["scale"]) == 2.0**39
    assert int(new.step) == 1  # its batch was consumed


def test_finite_steps_apply_the_unscaled_gradient_and_the_scale_doubles_after_period():
    model, state, step, batch = _tiny(2.0**4, period=2)
    unscaled = Mixed(model.layer, model.policy, None)  # the same float16 model, no loss scale
    reference = jax.jit(fn.make_step_fn(unscaled, fn.losses.softmax_cross_entropy, optax.adam(1e-2)))
    plain = state._replace(model_state=state.model_state["model"])
    for _ in range(2):
        state, logs = step(state, batch)
        plain, _ = reference(plain, batch)
        assert not bool(logs["skipped"])
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(plain.params), strict=True):
        assert a.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-3, atol=1e-4)  # scale 16: exact-ish
    assert float(state.model_state["loss_scale"]["scale"]) == 2.0**5 and int(state.step) == 2


def test_loss_scaling_rescues_gradients_that_underflow_in_float16():
    model = fn.Sequential(fn.Dense(3), fn.Dense(1))
    _, params = model.init(jax.random.key(0), (4,))
    x = jnp.ones((2, 4))

    def grads(layer, scale):
        tiny = lambda p: 1e-8 * scale * jnp.mean(layer.apply(p, x))  # noqa: E731
        return jax.tree.map(lambda g: g / scale, jax.grad(tiny)(params))

    want = grads(model, 1.0)  # float32
    lost = grads(Mixed(model, "mixed_float16", None), 1.0)
    saved = grads(Mixed(model, "mixed_float16", None), 2.0**15)
    assert float(jnp.abs(lost["0"]["kernel"]).max()) == 0.0  # 1e-8 / 2 per output: below float16's 6e-8
    assert _relative(saved["0"]["kernel"], want["0"]["kernel"]) < 2.0**-8


def test_the_loss_is_float32_even_for_half_outputs():
    model = Mixed(fn.Dense(3), "params=float32,compute=bfloat16,output=bfloat16")
    seen = []

    def loss(out, y):
        seen.append(out.dtype)
        return fn.losses.softmax_cross_entropy(out, y)

    state = fn.init_train_state(model, optax.sgd(0.1), jax.random.key(0), (4,))
    _, logs = fn.make_step_fn(model, loss, optax.sgd(0.1))(state, (jnp.ones((2, 4)), jnp.zeros(2, jnp.int32)))
    assert seen == [jnp.float32] and logs["loss"].dtype == jnp.float32


def _blobs(n, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n).astype(np.int32)
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]], np.float32)
    return (centres[y] + 0.5 * rng.standard_normal((n, 2))).astype(np.float32), y


@pytest.mark.parametrize("policy,scale", [("mixed_bfloat16", None), ("mixed_float16", 2.0**24)])
def test_fit_trains_under_the_policy_end_to_end(policy, scale):
    x, y = _blobs(512)
    net = fn.Sequential(fn.Dense(16), fn.activations.relu, fn.Dense(3))
    model = Mixed(net, policy, None if scale is None else DynamicLossScale(initial_scale=scale))
    args = (fn.losses.softmax_cross_entropy, optax.adam(1e-2), x, y)
    common = dict(key=jax.random.key(0), epochs=3, batch_size=32, metrics={"accuracy": fn.metrics.accuracy})
    mixed, full = fn.fit(model, *args, **common), fn.fit(net, *args, **common)
    assert mixed.stop_reason == "completed 3 epochs" and mixed.steps == 48
    assert jax.tree.leaves(jax.tree.map(lambda a: a.dtype == jnp.float32, mixed.state.params)) == [True] * 4
    assert mixed.history["accuracy"][-1] >= 0.95
    assert abs(mixed.history["accuracy"][-1] - full.history["accuracy"][-1]) <= 0.02
    if scale is not None:  # 2**24 overflows: the first steps are skipped until the scale fits float16
        assert 0 < mixed.history["skipped"][0] < 1 and mixed.history["loss_scale"][-1] <= 2.0**17
        ev = fn.evaluate(model, mixed.state.params, x, y, metrics={"accuracy": fn.metrics.accuracy},
                         model_state=mixed.state.model_state)  # fmt: skip
        assert abs(ev["accuracy"] - mixed.history["accuracy"][-1]) < 0.05
        assert fn.predict(model, mixed.state.params, x[:5]).dtype == jnp.float32  # {} state: no scale needed


def test_mnist_mlp_under_mixed_bfloat16_reaches_the_float32_accuracy(data_dir):
    data = fn.data.load_mnist("mnist", data_dir)
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    net = fn.Sequential(fn.Dense(256), fn.activations.relu, fn.Dense(10))
    accuracy = {}
    for name, model in (("float32", net), ("mixed_bfloat16", Mixed(net))):
        x, y = flat(data.x_train), data.y_train
        result = fn.fit(model, fn.losses.softmax_cross_entropy, optax.adam(1e-3), x, y,
                        key=jax.random.key(0), epochs=3, batch_size=128, fused=True)  # fmt: skip
        scores = fn.evaluate(model, result.state.params, flat(data.x_test), data.y_test,
                             metrics={"accuracy": fn.metrics.accuracy})  # fmt: skip
        accuracy[name] = 100 * scores["accuracy"]
    assert accuracy["float32"] > 97.0, accuracy
    assert abs(accuracy["mixed_bfloat16"] - accuracy["float32"]) <= 0.3, accuracy


def test_the_benchmark_suite_has_policy_rows_beside_float32():
    from benchmarks import peers, run

    specs = run.grid(run.build_parser().parse_args([]))
    assert {s.dtype for s in specs} == {"float32", "bfloat16", "mixed_bfloat16"}
    spec = peers.Spec("mlp", "mixed_bfloat16", 4)
    with jax.numpy_rank_promotion("allow"):  # the hand-written peer broadcasts implicitly, as Flax does
        built = {fw: peers.build(fw, spec) for fw in ("fnnet", "jax")}
        for name, b in built.items():
            floats = {a.dtype for a in jax.tree.leaves(b.args[0]) if jnp.issubdtype(a.dtype, jnp.floating)}
            assert floats == {jnp.dtype("float32")}, name  # float32 parameters and optimizer state
            dots = _primitive_dtypes(jax.make_jaxpr(b.step)(*b.args).jaxpr, {"dot_general"})
            # 3 forward, 3 weight gradients, 2 input gradients (none for the data), all in bfloat16
            assert len(dots) == 8 and all(d == ["bfloat16", "bfloat16"] for _, d in dots), (name, dots)
            logs = b.step(*b.args)[1]  # fnnet's step returns its logs, the hand-written one its loss
            assert np.isfinite(float(logs["loss"] if name == "fnnet" else logs)), name
    assert built["fnnet"].param_count == built["jax"].param_count
    with pytest.raises(peers.Skipped, match="flax: no mixed_bfloat16 peer"):
        peers.build("flax", spec)
    x = np.random.default_rng(0).random((8, 20), dtype=np.float32)
    y = np.zeros(8, np.int32)
    net = fn.Sequential(fn.Dense(16), fn.activations.relu, fn.Dense(3))
    out = fn.bench.train_step_benchmark(net, fn.losses.softmax_cross_entropy, optax.sgd(0.1), x, y,
                                        dtype="mixed_bfloat16", warmup=1, number=1, repeats=1)  # fmt: skip
    assert out["dtype"] == "mixed_bfloat16" and out["param_count"] == 20 * 16 + 16 + 16 * 3 + 3
