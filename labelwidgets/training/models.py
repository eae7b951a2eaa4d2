"""Classification networks for the training loop: residual CNNs of three widths and ResNet-18.

Every network is built from scratch (no pretrained weights: nothing downloads) and carries the
noise that noisy-student training relies on: dropout before the classifier and stochastic depth
on the residual branches. Both are active in ``train()`` mode only, so a model in ``eval()``
mode (the teacher that predicts pseudo-labels) is un-noised.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

__all__ = ["MODELS", "build_model", "model_name"]

#: Names :func:`build_model` understands (``"yolov8n-cls"`` is the ultralytics backend).
MODELS = ("tiny_cnn", "small_cnn", "wide_cnn", "resnet18")


def _torch():
    try:
        import torch
        from torch import nn
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "labelwidgets.training needs torch. Install it with "
            "`pip install 'labelwidgets[train]'` (torch==2.14.1, torchvision==0.29.1)."
        ) from exc
    return torch, nn


def _small_cnn_class():
    torch, nn = _torch()
    from torchvision.ops import StochasticDepth

    class ResidualBlock(nn.Module):
        """Two 3x3 convolutions with a skip connection; the residual branch is dropped at
        random per sample (stochastic depth) while training."""

        def __init__(self, channels_in: int, channels_out: int, stride: int, drop_path: float):
            super().__init__()
            self.branch = nn.Sequential(
                nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False),
                nn.BatchNorm2d(channels_out),
                nn.ReLU(inplace=True),
                nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False),
                nn.BatchNorm2d(channels_out),
            )
            self.drop_path = StochasticDepth(drop_path, "row")
            self.skip = (
                nn.Identity()
                if stride == 1 and channels_in == channels_out
                else nn.Sequential(
                    nn.Conv2d(channels_in, channels_out, 1, stride, bias=False),
                    nn.BatchNorm2d(channels_out),
                )
            )
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            return self.act(self.skip(x) + self.drop_path(self.branch(x)))

    class SmallCNN(nn.Module):
        """A three-stage residual CNN for small images (16 to 128 pixels).

        Parameters
        ----------
        n_classes : int
            Number of outputs.
        width : int, default=32
            Channels of the first stage (doubled at each of the next two stages).
        dropout : float, default=0.3
            Dropout before the linear classifier.
        drop_path : float, default=0.1
            Stochastic-depth probability of the deepest block (linearly less for earlier ones).
        """

        def __init__(self, n_classes: int, width: int = 32, dropout: float = 0.3,
                     drop_path: float = 0.1):  # fmt: skip
            super().__init__()
            widths = [width, 2 * width, 4 * width]
            self.stem = nn.Sequential(
                nn.Conv2d(3, width, 3, 1, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
            )
            blocks, channels = [], width
            for i, w in enumerate(widths):
                blocks.append(
                    ResidualBlock(channels, w, 1 if i == 0 else 2, drop_path * (i + 1) / 3)
                )
                channels = w
            self.blocks = nn.Sequential(*blocks)
            self.head = nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
                nn.Dropout(dropout),
                nn.Linear(channels, n_classes),
            )

        def forward(self, x):
            return self.head(self.blocks(self.stem(x)))

    return SmallCNN


def _resnet18(n_classes: int, dropout: float, drop_path: float):
    _, nn = _torch()
    from torchvision.models import resnet18
    from torchvision.ops import StochasticDepth

    net = resnet18(weights=None, num_classes=n_classes)
    blocks = [b for layer in (net.layer1, net.layer2, net.layer3, net.layer4) for b in layer]
    for i, block in enumerate(blocks):
        # the last op of a BasicBlock's residual branch is bn2: dropping its output per sample
        # before the skip addition is stochastic depth
        p = drop_path * (i + 1) / len(blocks)
        block.bn2 = nn.Sequential(block.bn2, StochasticDepth(p, "row"))
    net.fc = nn.Sequential(nn.Dropout(dropout), net.fc)
    return net


def build_model(model, n_classes: int, *, dropout: float = 0.3, drop_path: float = 0.1):
    """A fresh, untrained network with ``n_classes`` outputs.

    Parameters
    ----------
    model : {"tiny_cnn", "small_cnn", "wide_cnn", "resnet18"}, torch.nn.Module or callable
        A name from :data:`MODELS` (the CNNs are one network at widths 16, 32 and 64); a module (deep-copied, so every round starts from the same
        initial weights; it must output ``n_classes`` logits); or a callable
        ``n_classes -> nn.Module``.
    n_classes : int
        Number of classes.
    dropout : float, default=0.3
        Dropout before the classifier (named models only).
    drop_path : float, default=0.1
        Stochastic depth of the deepest residual block (named models only).

    Returns
    -------
    torch.nn.Module
    """
    _, nn = _torch()
    if isinstance(model, nn.Module):
        return copy.deepcopy(model)
    if isinstance(model, str):
        if model == "tiny_cnn":
            return _small_cnn_class()(n_classes, 16, dropout, drop_path)
        if model == "small_cnn":
            return _small_cnn_class()(n_classes, 32, dropout, drop_path)
        if model == "wide_cnn":
            return _small_cnn_class()(n_classes, 64, dropout, drop_path)
        if model == "resnet18":
            return _resnet18(n_classes, dropout, drop_path)
    elif isinstance(model, Callable):
        net = model(n_classes)
        if isinstance(net, nn.Module):
            return net
    raise ValueError(
        f"`model` must be one of {list(MODELS)}, a torch.nn.Module or a callable returning one. "
        f"Got {model!r} instead."
    )


def model_name(model) -> str:
    """A short name for a model spec: the name itself, or the module's class name."""
    if isinstance(model, str):
        return model
    if isinstance(model, type):
        return model.__name__
    return (
        type(model).__name__
        if not callable(model) or hasattr(model, "forward")
        else getattr(model, "__name__", type(model).__name__)
    )
