"""Convolution and max pooling: 2-D on NCHW images (batch, channels, height, width), 1-D on NCL signals (batch,
channels, length)."""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import check_bool, check_float_array, check_int, check_positive_int, check_rng
from odyssey_lessons.nn import _kernels
from odyssey_lessons.nn._base import Layer
from odyssey_lessons.nn._layers import he_uniform


def conv_output_size(name: str, size: int, k: int, stride: int, pad: int) -> int:
    """The output length of a convolution or pooling window along one axis: ``(size + 2*pad - k) // stride + 1``.

    Raises:
        ValueError: The padded input (``name``, for the message) is smaller than the kernel.
    """
    if size + 2 * pad < k:
        raise ValueError(f"input {name}={size} plus padding {2 * pad} is smaller than kernel_size={k}")
    return (size + 2 * pad - k) // stride + 1


class _Conv(Layer):
    """What Conv1D and Conv2D share: their hyperparameters, checked, and He-uniform weights of shape
    ``(out_channels, in_channels) + (kernel_size,) * SPATIAL`` (``fan_in = in_channels * kernel_size**SPATIAL``) with a
    zero bias."""

    SPATIAL = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        stride: int = 1,
        padding: int = 0,
        rng: np.random.Generator,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int("in_channels", in_channels)
        self.out_channels = check_positive_int("out_channels", out_channels)
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.stride = check_positive_int("stride", stride)
        padding = check_int("padding", padding, minimum=0)
        self.padding = int(padding)
        k = self.kernel_size
        shape = (self.out_channels, self.in_channels) + (k,) * self.SPATIAL
        self._add_param("weight", he_uniform(shape, self.in_channels * k**self.SPATIAL, check_rng(rng)))
        self._add_param("bias", np.zeros(self.out_channels))


class Conv2D(_Conv):
    """2-D convolution (cross-correlation, as in every DL framework):

    ``y[n, o, i, j] = b[o] + sum_{c,u,v} W[o, c, u, v] * x[n, c, i*stride + u - padding, j*stride + v - padding]``

    with zero padding. Implementation: **im2col + one BLAS matmul**. A numba kernel (:func:`_kernels.im2col`) copies
    every ``k x k`` patch into a row of a matrix ``cols`` (N*OH*OW, C*k*k); then ``y = cols @ W.reshape(O, -1).T`` is
    one large matrix product that runs at BLAS speed. That is much faster than a direct 6-deep loop for the layer sizes
    of this course, at the price of memory (``cols`` repeats each pixel up to k*k times). Backward reuses ``cols``:
    ``dW = dy^T @ cols``, ``db = sum dy``, ``dcols = dy @ W`` and the numba kernel :func:`_kernels.col2im` adds
    ``dcols`` back onto the pixels (the adjoint of im2col).

    Args:
        in_channels, out_channels: Channels of the input and the output.
        kernel_size: Side of the square kernel.
        stride: Step between neighbouring output positions.
        padding: Zeros added on each side of the height and the width.
        rng: Generator for the He-uniform initial weights (fan_in = in_channels * kernel_size**2); bias starts at 0.
    """

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """``x`` (N, in_channels, H, W) -> ``y`` (N, out_channels, OH, OW), ``OH = (H + 2p - k) // stride + 1``."""
        check_bool("training", training)
        check_float_array("x", x, ndim=(4,), dtype=self.dtype)
        n, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels (N, C, H, W), got x.shape={x.shape}")
        k, s, p = self.kernel_size, self.stride, self.padding
        oh, ow = conv_output_size("H", h, k, s, p), conv_output_size("W", w, k, s, p)
        cols = np.empty((n * oh * ow, c * k * k), dtype=x.dtype)
        _kernels.im2col(np.ascontiguousarray(x), cols, k, s, p, x.dtype.type(0))
        self._cols, self._in_shape = cols, x.shape
        y = cols @ self._params["weight"].reshape(self.out_channels, -1).T + self._params["bias"]
        # rows of y are (n, i, j) and columns are o: move o to the channel axis for NCHW
        return self._remember_output(np.ascontiguousarray(y.reshape(n, oh, ow, -1).transpose(0, 3, 1, 2)))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad_y = self._check_grad(grad_y)
        g = grad_y.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)  # (N*OH*OW, O), rows ordered like cols
        self._grads["weight"] += (g.T @ self._cols).reshape(self._params["weight"].shape)
        self._grads["bias"] += g.sum(axis=0)
        grad_cols = g @ self._params["weight"].reshape(self.out_channels, -1)
        grad_x = np.zeros(self._in_shape, dtype=grad_y.dtype)
        _kernels.col2im(grad_cols, grad_x, self.kernel_size, self.stride, self.padding)
        return grad_x

    def __repr__(self) -> str:
        return (
            f"Conv2D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding})"
        )


class Conv1D(_Conv):
    """1-D convolution (cross-correlation, as ``torch.nn.Conv1d``) of signals shaped (N, C, L):

    ``y[n, o, i] = b[o] + sum_{c,u} W[o, c, u] * x[n, c, i*stride + u - padding]``

    with zero padding. The same plan as :class:`Conv2D` (im2col + one BLAS matmul), but the unfolding needs no numba
    kernel: after padding, ``sliding_window_view`` sees every window of ``k`` samples without a copy, and one reshape
    copies the strided windows into ``cols`` (N*OL, C*k). Backward: ``dW = dy^T @ cols``, ``db = sum dy``, ``dcols =
    dy @ W``, and the adjoint of the unfolding adds tap ``u`` of every window back onto the samples
    ``u, u + stride, ...``: ``k`` strided array additions.

    Args:
        in_channels, out_channels: Channels of the input and the output.
        kernel_size: Length of the kernel.
        stride: Step between neighbouring output positions.
        padding: Zeros added at each end of the signal.
        rng: Generator for the He-uniform initial weights (fan_in = in_channels * kernel_size); bias starts at 0.
    """

    SPATIAL = 1

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """``x`` (N, in_channels, L) -> ``y`` (N, out_channels, OL), ``OL = (L + 2p - k) // stride + 1``."""
        check_bool("training", training)
        check_float_array("x", x, ndim=(3,), dtype=self.dtype)
        n, c, length = x.shape
        if c != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels (N, C, L), got x.shape={x.shape}")
        k, s, p = self.kernel_size, self.stride, self.padding
        ol = conv_output_size("L", length, k, s, p)
        padded = np.pad(x, ((0, 0), (0, 0), (p, p)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, k, axis=2)[:, :, : (ol - 1) * s + 1 : s]
        cols = windows.transpose(0, 2, 1, 3).reshape(n * ol, c * k)  # rows (n, i), columns (c, u): a copy
        self._cols, self._in_shape, self._out_len = cols, x.shape, ol
        y = cols @ self._params["weight"].reshape(self.out_channels, -1).T + self._params["bias"]
        return self._remember_output(np.ascontiguousarray(y.reshape(n, ol, -1).transpose(0, 2, 1)))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad_y = self._check_grad(grad_y)
        g = grad_y.transpose(0, 2, 1).reshape(-1, self.out_channels)  # (N*OL, O), rows ordered like cols
        self._grads["weight"] += (g.T @ self._cols).reshape(self._params["weight"].shape)
        self._grads["bias"] += g.sum(axis=0)
        n, c, length = self._in_shape
        k, s, p, ol = self.kernel_size, self.stride, self.padding, self._out_len
        grad_cols = (g @ self._params["weight"].reshape(self.out_channels, -1)).reshape(n, ol, c, k)
        grad_padded = np.zeros((n, c, length + 2 * p), dtype=grad_y.dtype)
        for u in range(k):  # tap u of window i read sample i*stride + u: overlapping windows add up
            grad_padded[:, :, u : u + (ol - 1) * s + 1 : s] += grad_cols[:, :, :, u].transpose(0, 2, 1)
        return np.ascontiguousarray(grad_padded[:, :, p : p + length])

    def __repr__(self) -> str:
        return (
            f"Conv1D({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding})"
        )


class MaxPool2D(Layer):
    """Max pooling: ``y[n, c, i, j] = max_{u, v < k} x[n, c, i*stride + u, j*stride + v]`` (no padding; rows and
    columns that do not fill a whole window are dropped, as in PyTorch).

    Forward (numba kernel) also records, for each output, which input pixel won; backward sends each output gradient
    to that pixel only, since the max is locally the identity on the winner and constant in the others.

    Args:
        kernel_size: Side of the square window.
        stride: Step between windows; defaults to ``kernel_size`` (non-overlapping windows).
    """

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else check_positive_int("stride", stride)

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        """``x`` (N, C, H, W) -> ``y`` (N, C, (H - k) // stride + 1, (W - k) // stride + 1)."""
        check_bool("training", training)
        check_float_array("x", x, ndim=(4,))
        n, c, h, w = x.shape
        k, s = self.kernel_size, self.stride
        oh, ow = conv_output_size("H", h, k, s, 0), conv_output_size("W", w, k, s, 0)
        y = np.empty((n, c, oh, ow), dtype=x.dtype)
        if training:
            self._arg = np.empty((n, c, oh, ow), dtype=np.int64)
            _kernels.maxpool_forward(np.ascontiguousarray(x), y, self._arg, k, s)
        else:  # inference: nothing to route gradients back through
            self._arg = None
            _kernels.maxpool_eval(np.ascontiguousarray(x), y, k, s)
        self._in_shape = x.shape
        return self._remember_output(y)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad_y = np.ascontiguousarray(self._check_grad(grad_y))
        if self._arg is None:
            raise RuntimeError("MaxPool2D.backward needs a forward with training=True (inference keeps no argmax)")
        grad_x = np.zeros(self._in_shape, dtype=grad_y.dtype)
        _kernels.maxpool_backward(grad_y, self._arg, grad_x)
        return grad_x

    def __repr__(self) -> str:
        return f"MaxPool2D(kernel_size={self.kernel_size}, stride={self.stride})"
