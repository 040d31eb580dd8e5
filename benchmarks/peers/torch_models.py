"""The four models in PyTorch (CPU or CUDA), eager mode, ``torch.optim.Adam``.

The CNN runs channels-last (PyTorch's fastest layout on CPU). PyTorch's LSTM has two bias vectors
where the others have one: ``bias_hh`` is zeroed and frozen so the trainable parameters match. A policy
row (``mixed_bfloat16``) keeps float32 parameters and inputs and runs the forward pass under
``torch.autocast`` in bfloat16 (PyTorch's automatic mixed precision).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from benchmarks.peers.common import (
    CLASSES,
    FEATURES,
    HIDDEN,
    LEARNING_RATE,
    POLICIES,
    Built,
    Spec,
    compute_dtype,
    make_data,
)


class RNNClassifier(nn.Module):
    """``[B, T, F]`` -> last hidden state -> dense 10."""

    def __init__(self, kind: str):
        super().__init__()
        self.rnn = (nn.LSTM if kind == "lstm" else nn.GRU)(FEATURES, HIDDEN, batch_first=True)
        if kind == "lstm":
            with torch.no_grad():
                self.rnn.bias_hh_l0.zero_()
            self.rnn.bias_hh_l0.requires_grad_(False)
        self.head = nn.Linear(HIDDEN, CLASSES)

    def forward(self, x):
        _, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state  # [1, B, H]
        return self.head(h[0])


def _network(model: str) -> nn.Module:
    if model == "mlp":
        return nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
        )
    if model == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(7 * 7 * 64, 128),
            nn.ReLU(),
            nn.Linear(128, CLASSES),
        )
    return RNNClassifier(model)


def build(spec: Spec, abstract: bool = False) -> Built:
    """The PyTorch model, Adam and one eager train step for ``spec`` (building is cheap: no
    ``abstract`` shortcut needed)."""
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    names = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    dtype = torch.float32 if spec.dtype in POLICIES else names[spec.dtype]  # parameters and inputs
    autocast = (
        (lambda: torch.autocast(device_type=device, dtype=names[compute_dtype(spec.dtype)]))
        if spec.dtype in POLICIES
        else contextlib.nullcontext
    )
    net = _network(spec.model).to(device=device, dtype=dtype)
    x, y = make_data(spec)
    x, y = torch.from_numpy(x).to(device=device, dtype=dtype), torch.from_numpy(y).long().to(device)
    if spec.model == "cnn":
        net = net.to(memory_format=torch.channels_last)
        x = x.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)  # NHWC -> NCHW view
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()

    def call():
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            logits = net(x)
        loss = loss_fn(logits.float(), y)
        loss.backward()
        optimizer.step()
        return loss

    with torch.no_grad():
        out = net(x[:1])

    def sync(loss):
        return loss.item()

    return Built(
        param_count=sum(p.numel() for p in trainable),
        out_shape=tuple(out.shape[1:]),
        call=call,
        sync=sync,
        note=f"torch {torch.__version__} eager on {device}"
        + (", channels_last" if spec.model == "cnn" else "")
        + (f", torch.autocast({compute_dtype(spec.dtype)})" if spec.dtype in POLICIES else ""),
    )
