"""The benchmark harness: statistics, synchronisation, carried state, cost analysis, model facts."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import fnnet
from fnnet import bench


def test_summarize_matches_numpy():
    seconds = [0.3, 0.1, 0.2, 0.5]
    out = bench.summarize(seconds, samples_per_call=8)
    assert out["median_s"] == pytest.approx(np.median(seconds))
    assert out["min_s"] == 0.1 and out["max_s"] == 0.5
    assert out["mean_s"] == pytest.approx(np.mean(seconds))
    assert out["samples_per_second"] == pytest.approx(8 / np.median(seconds))


def test_summarize_rejects_empty():
    with pytest.raises(ValueError, match="no timings"):
        bench.summarize([])


def test_time_blocks_counts_calls_and_syncs_each_block_on_its_last_output():
    calls, synced = [], []

    def call():
        calls.append(len(calls))
        return len(calls) - 1

    seconds = bench.time_blocks(call, synced.append, warmup=2, number=3, repeats=4)
    assert len(seconds) == 4 and all(s >= 0 for s in seconds)
    assert len(calls) == 2 + 3 * 4
    # one sync after the warm-up, then one per block, each on that block's last call
    assert synced == [1, 4, 7, 10, 13]


def test_time_blocks_rejects_bad_counts():
    with pytest.raises(ValueError, match="number >= 1"):
        bench.time_blocks(lambda: None, number=0)


def test_interleaved_warms_up_then_rotates_the_order_and_syncs_each_block(monkeypatch):
    clock = [0.0]  # a fake clock: each call of a variant costs its own number of "seconds"
    monkeypatch.setattr(bench.timing.time, "perf_counter", lambda: clock[0])
    calls, synced = [], []

    def variant(name, cost):
        def call():
            clock[0] += cost
            calls.append(name)
            return len(calls)

        return call

    thunks = {"a": variant("a", 1.0), "b": variant("b", 2.0), "c": variant("c", 4.0)}
    out = bench.interleaved(thunks, rounds=3, block=2, warmup=1, sync=synced.append)
    warm = ["a", "b", "c"]
    rounds = [["a", "a", "b", "b", "c", "c"], ["b", "b", "c", "c", "a", "a"], ["c", "c", "a", "a", "b", "b"]]
    assert calls == warm + [name for r in rounds for name in r]
    assert synced == [1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21]  # after each warm-up, then each block
    assert {n: out[n]["samples_s"] for n in out} == {"a": [1.0] * 3, "b": [2.0] * 3, "c": [4.0] * 3}
    assert out["c"]["median_s"] == 4.0 and out["a"]["min_s"] == 1.0
    json.dumps(out)


def test_interleaved_rejects_bad_counts_and_no_variants():
    with pytest.raises(ValueError, match="rounds >= 1"):
        bench.interleaved({"a": lambda: None}, rounds=0)
    with pytest.raises(ValueError, match="no variants"):
        bench.interleaved({})


def test_interleaved_times_real_jax_calls():
    a = jnp.ones((64, 64))
    f = jax.jit(lambda a: a @ a)
    out = bench.interleaved({"f": lambda: f(a), "g": lambda: f(a + 1)}, rounds=2, block=3, warmup=1)
    assert sorted(out) == ["f", "g"] and all(len(r["samples_s"]) == 2 for r in out.values())
    assert all(r["min_s"] > 0 for r in out.values())


def test_benchmark_threads_the_carry_and_donation_is_safe():
    seen = []

    def step(state, x):
        jax.debug.callback(lambda v: seen.append(int(v)), state)
        return state + 1, x * 2

    step = jax.jit(step, donate_argnums=0)
    result = bench.benchmark(step, jnp.int32(0), jnp.ones(3), carry=True, warmup=1, number=2, repeats=3)
    jax.effects_barrier()
    assert seen == list(range(1 + 2 * 3))
    assert len(result["samples_s"]) == 3
    json.dumps(result)  # plain data


def test_benchmark_flops_of_a_matmul_and_fraction_of_ceiling():
    m, k, n = 64, 32, 48
    a, b = jnp.ones((m, k)), jnp.ones((k, n))
    ceiling = {"flops_per_second": 1e9}
    result = bench.benchmark(jnp.matmul, a, b, warmup=1, number=2, repeats=2, ceiling=ceiling)
    assert result["flops"] == 2 * m * k * n
    assert result["flops_per_second"] == pytest.approx(2 * m * k * n / result["median_s"])
    assert result["fraction_of_ceiling"] == pytest.approx(result["flops_per_second"] / 1e9)
    assert result["compile_s"] > 0 and result["lower_s"] > 0
    assert result["memory"]["argument_bytes"] == 4 * (m * k + k * n)
    assert result["environment"]["platform"] == jax.devices()[0].platform


def test_cost_analysis_handles_lists_missing_and_failing_backends():
    class Listed:
        def cost_analysis(self):
            return [{"flops": 10.0, "bytes accessed": 4.0}]

    class Failing:
        def cost_analysis(self):
            raise NotImplementedError

    assert bench.cost_analysis(Listed()) == {
        "flops": 10.0,
        "bytes_accessed": 4.0,
        "transcendentals": None,
    }
    assert bench.cost_analysis(Failing())["flops"] is None


def test_matmul_ceiling_reports_its_flops():
    out = bench.matmul_ceiling("float32", 128, warmup=1, number=1, repeats=2)
    assert out["flops"] == 2 * 128**3
    assert out["flops_per_second"] == pytest.approx(out["flops"] / out["median_s"])
    assert out["dtype"] == "float32" and out["environment"]["dtype"] == "float32"
    with pytest.raises(ValueError, match="size must be positive"):
        bench.matmul_ceiling("float32", 0)


def test_environment_names_device_and_versions():
    env = bench.environment("bfloat16")
    assert env["jax"] == jax.__version__ and env["dtype"] == "bfloat16"
    assert env["device_kind"] == jax.devices()[0].device_kind
    assert set(env["threads"]) >= {"XLA_FLAGS", "OMP_NUM_THREADS"}


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_train_step_benchmark_reports_model_facts(dtype):
    model = fnnet.Sequential(fnnet.Dense(16), fnnet.activations.relu, fnnet.Dense(10))
    x = np.random.default_rng(0).random((8, 20), dtype=np.float32)
    y = np.arange(8) % 10
    out = bench.train_step_benchmark(
        model,
        fnnet.losses.softmax_cross_entropy,
        optax.adam(1e-3),
        x,
        y,
        dtype=dtype,
        warmup=1,
        number=2,
        repeats=2,
    )
    assert out["param_count"] == 20 * 16 + 16 + 16 * 10 + 10
    assert out["out_shape"] == [10] and out["batch_size"] == 8 and out["dtype"] == dtype
    # forward + backward of the two matmuls: at least 2*B*(20*16 + 16*10) * 2 FLOPs
    assert out["flops"] >= 2 * 8 * (20 * 16 + 16 * 10) * 2
    json.dumps(out)


def test_forward_benchmark_and_cast_floats():
    model = fnnet.Dense(4)
    _, params = model.init(jax.random.key(0), (3,))
    cast = bench.cast_floats({"p": params, "step": jnp.int32(1)}, jnp.bfloat16)
    assert cast["p"]["kernel"].dtype == jnp.bfloat16 and cast["step"].dtype == jnp.int32
    out = bench.forward_benchmark(model, params, jnp.ones((5, 3)), warmup=1, number=1, repeats=1)
    assert out["flops"] >= 2 * 5 * 3 * 4 and out["out_shape"] == [4] and out["kind"] == "forward"
