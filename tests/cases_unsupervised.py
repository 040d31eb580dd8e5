"""Registry cases for the unsupervised family: noise layers, RBM, autoencoders."""

from registry import Case

import fnnet as fn
from fnnet.unsupervised import dense_autoencoder, flatten_trailing, unflatten_trailing

CASES = [
    Case("gaussian_noise_training", fn.GaussianNoise(0.3), (4,), training=True),
    Case("masking_noise_training", fn.MaskingNoise(0.5), (6,), training=True),
    Case("rbm_hidden_probabilities", fn.unsupervised.RBM(3), (5,)),
    Case("dense_autoencoder", dense_autoencoder(6, 2, (4,), activation=fn.activations.tanh), (6,)),
    Case(
        "autoencoder_reshaping",
        fn.unsupervised.Autoencoder(
            fn.Sequential(fn.Lambda(flatten_trailing, (("axes", 2),)), fn.Dense(3)),
            fn.Sequential(fn.Dense(6), fn.Lambda(unflatten_trailing, (("shape", (2, 3)),))),
        ),
        (2, 3),
    ),
]
