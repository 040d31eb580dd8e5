"""Registry cases for the convolution, pooling, reshape, dropout and normalisation layers."""

from registry import Case

import fnnet as fn

CASES = [
    Case("conv2d_same", fn.Conv(3, (3, 3)), (5, 4, 2)),
    Case("conv2d_xla", fn.Conv(3, (3, 3), impl="xla"), (5, 4, 2)),
    Case("conv2d_hybrid", fn.Conv(3, (3, 3), impl="hybrid"), (5, 4, 2)),
    Case("conv2d_hybrid_wide", fn.Conv(2, (3, 3), impl="hybrid", dilation=2), (5, 5, 6)),
    # "shifted" was removed; the name stays (tests/golden/ is keyed by it). Strided, "hybrid" runs xla.
    Case("conv2d_shifted_strided", fn.Conv(2, (2, 3), strides=2, impl="hybrid"), (5, 6, 2)),
    Case("conv2d_valid_dilated", fn.Conv(2, (2, 2), padding="VALID", dilation=2), (5, 5, 1)),
    Case("conv2d_groups_no_bias", fn.Conv(4, (3, 3), groups=2, use_bias=False), (4, 4, 2)),
    Case("conv1d_causal", fn.Conv(3, (3,), padding="CAUSAL"), (6, 2)),
    Case("conv3d", fn.Conv(2, (2, 2, 2), padding=((1, 0), (0, 1), (1, 1))), (3, 3, 3, 1)),
    Case("conv_transpose", fn.ConvTranspose(2, (3, 3), strides=2), (3, 3, 2)),
    Case("conv_transpose_valid", fn.ConvTranspose(2, (2, 3), padding="VALID"), (3, 2, 1)),
    Case("max_pool", fn.MaxPool(2), (4, 5, 2)),
    Case("max_pool_xla_same", fn.MaxPool(3, strides=2, padding="SAME"), (5, 5, 2)),
    Case("max_pool_1d", fn.MaxPool((2,), padding="SAME"), (5, 3)),
    Case("avg_pool_same", fn.AvgPool(2, padding="SAME"), (5, 3, 2)),
    Case("avg_pool_overlap", fn.AvgPool((3, 2), strides=1, padding="SAME"), (4, 3, 1)),
    Case("global_avg_pool", fn.GlobalAvgPool(), (3, 4, 2)),
    Case("global_max_pool", fn.GlobalMaxPool(), (3, 4, 2)),
    Case("flatten", fn.Flatten(), (2, 3, 2)),
    Case("reshape", fn.Reshape((3, 4)), (12,)),
    Case("dropout_eval", fn.Dropout(0.5), (6,)),
    Case("dropout_train", fn.Dropout(0.3), (6,), training=True),
    Case("batch_norm_train", fn.BatchNorm(), (3, 2), training=True),
    Case("batch_norm_eval", fn.BatchNorm(), (3, 2)),
    Case("layer_norm", fn.LayerNorm(), (2, 5)),
    Case(
        "small_cnn",
        fn.Sequential(
            fn.Conv(2, (3, 3)), fn.activations.relu, fn.MaxPool(2), fn.Flatten(), fn.Dropout(0.2), fn.Dense(3)
        ),
        (4, 4, 1),
        training=True,
    ),
]
