"""A small neural-network engine in numpy + numba, short enough to read in one sitting.

Every layer has ``forward(x, training) -> y`` and, right beside it, ``backward(grad_y) -> grad_x``; parameters and
gradients are plain float32 arrays in dicts (``params()``, ``grads()``), ready for :mod:`odyssey_lessons.optim`.
``training`` is always passed explicitly (no hidden train/eval mode). 2-D convolution and pooling run numba kernels,
1-D convolution unfolds its windows with numpy strides; matrix products run numpy's BLAS. Two of those numba kernels
are public: :func:`im2col` and :func:`maxpool_eval`, which the integer inference kernels of
:mod:`odyssey_lessons.quant` reuse and whose compile time the profiling lesson measures.
"""

from odyssey_lessons.nn._base import Layer
from odyssey_lessons.nn._conv import Conv1D, Conv2D, MaxPool2D, conv_output_size
from odyssey_lessons.nn._kernels import im2col, maxpool_eval
from odyssey_lessons.nn._layers import Dropout, Flatten, Linear, ReLU, Residual, Sequential, he_uniform
from odyssey_lessons.nn._loss import softmax_cross_entropy
from odyssey_lessons.nn._models import digits_cnn, layer_like, mlp, mnist1d_cnn, mnist1d_mlp, profiled_cnn
from odyssey_lessons.nn._norm import BatchNorm

__all__ = [
    "BatchNorm",
    "Conv1D",
    "Conv2D",
    "Dropout",
    "Flatten",
    "Layer",
    "Linear",
    "MaxPool2D",
    "ReLU",
    "Residual",
    "Sequential",
    "conv_output_size",
    "digits_cnn",
    "profiled_cnn",
    "he_uniform",
    "layer_like",
    "im2col",
    "maxpool_eval",
    "mlp",
    "mnist1d_cnn",
    "mnist1d_mlp",
    "softmax_cross_entropy",
]
