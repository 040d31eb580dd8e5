"""Unsupervised networks: autoencoders, a GAN, RBMs and deep belief networks, built from fnnet layers."""

from fnnet.training.epochs import make_epoch_fn
from fnnet.unsupervised.autoencoder import (
    Autoencoder,
    conv_autoencoder,
    dense_autoencoder,
    flatten_trailing,
    unflatten_trailing,
)
from fnnet.unsupervised.dbn import DBN, dbn_mlp, pretrain_dbn
from fnnet.unsupervised.gan import (
    GANState,
    discriminator_loss,
    generator_loss,
    init_gan_state,
    latent_noise,
    make_gan_step,
    sample_generator,
)
from fnnet.unsupervised.pca import PCA, fit_pca
from fnnet.unsupervised.rbm import (
    RBM,
    cd_grad,
    cd_gradient,
    cd_loss,
    fit_rbm,
    free_energy,
    gibbs_chain,
    hidden_probabilities,
    make_cd_step,
    reconstruction_error,
    sample_rbm,
    visible_probabilities,
)

__all__ = [
    "Autoencoder",
    "DBN",
    "GANState",
    "PCA",
    "RBM",
    "cd_grad",
    "cd_gradient",
    "cd_loss",
    "conv_autoencoder",
    "dbn_mlp",
    "dense_autoencoder",
    "discriminator_loss",
    "fit_pca",
    "fit_rbm",
    "flatten_trailing",
    "free_energy",
    "generator_loss",
    "gibbs_chain",
    "hidden_probabilities",
    "init_gan_state",
    "latent_noise",
    "make_cd_step",
    "make_epoch_fn",
    "make_gan_step",
    "pretrain_dbn",
    "reconstruction_error",
    "sample_generator",
    "sample_rbm",
    "unflatten_trailing",
    "visible_probabilities",
]
