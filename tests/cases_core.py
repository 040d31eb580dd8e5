"""Registry cases for the core layers and combinators."""

from registry import Case

import fnnet as fn


def merge_last_two(x):
    return x.reshape(*x.shape[:-2], -1)


CASES = [
    Case("dense", fn.Dense(4), (3,)),
    Case("dense_no_bias", fn.Dense(2, use_bias=False), (5,)),
    Case("dense_on_sequence", fn.Dense(3), (2, 5)),
    Case("perceptron", fn.Perceptron(2), (3,), check_grads=False),
    Case("lambda_tanh", fn.Lambda(fn.activations.tanh), (4,)),
    Case("lambda_reshape", fn.Lambda(merge_last_two), (2, 3)),
    Case("lambda_kwargs", fn.Lambda(fn.activations.leaky_relu, (("negative_slope", 0.2),)), (4,)),
    Case("sequential_mlp", fn.Sequential(fn.Dense(8), fn.activations.tanh, fn.Dense(3)), (4,)),
    Case("parallel_concat", fn.Parallel(fn.Dense(2), fn.Dense(3)), (4,)),
    Case(
        "parallel_sum",
        fn.Parallel(fn.Dense(3), fn.Sequential(fn.Dense(3), fn.activations.tanh), merge="sum"),
        (4,),
    ),
    Case("residual", fn.Residual(fn.Dense(4), fn.activations.tanh), (4,)),
    Case(
        "nested",
        fn.Sequential(fn.Residual(fn.Dense(4)), fn.Parallel(fn.Dense(1), fn.activations.softplus)),
        (4,),
    ),
]
