"""MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024), generated here in numpy.

Ten hand-drawn 1-D templates, one per digit, each pushed through random transformations: zero padding, linear
stretching, scaling, a circular shift, correlated noise in the padding, iid noise everywhere, a linear shear and
subsampling to ``final_seq_length`` points. The result is sample for sample the dataset of the published ``mnist1d``
package (Apache-2.0), ``mnist1d.data.make_dataset(args)`` (checked in ``tests/data/test_mnist1d.py``), but computed
without scipy and without touching numpy's global random state.

How the package's draws are reproduced. It seeds the legacy global ``np.random`` and then, for every sample in turn
(class by class), draws ``rand`` (padding), ``rand`` (scale), ``choice`` (shift), ``randn(L)`` (correlated noise),
``randn(L)`` (iid noise) and ``rand`` (shear), with ``L = template_len + padding[1]``; then ``permutation(n)`` shuffles
the samples and, with ``shuffle_seq``, ``permutation(final_seq_length)`` the positions. The draws depend on nothing
that was computed, so a private ``np.random.RandomState(seed)`` makes the same calls in the same order in one short
loop, and all the arithmetic then runs on whole ``(n, L)`` arrays, with the package's formulas operation for
operation, so the result is bit for bit the same:

- ``scipy.interpolate.interp1d(kind="linear")`` hands 1-D float data to ``np.interp``, which is, for each new point
  ``x`` with ``j`` the last knot ``<= x``: ``y_j`` on a knot, else ``(y_{j+1} - y_j) / (x_{j+1} - x_j) * (x - x_j) +
  y_j``. Written out on whole arrays, because every sample is padded to a different length.
- ``scipy.ndimage.gaussian_filter(noise, 2)`` is a correlation with the 17 weights ``w_j ~ exp(-j^2 / 8)``,
  ``j = -8..8`` (``truncate=4.0``: radius ``int(4 * 2 + 0.5) = 8``), normalised to sum 1, over the input extended by
  mirror images that repeat the edge sample (``mode="reflect"``: ``d c b a | a b c d | d c b a``), accumulated as
  scipy's C loop does for a symmetric kernel: ``w_0 x_i + sum_{j=8..1} w_j (x_{i-j} + x_{i+j})``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from odyssey_lessons._validate import check_bool, check_int, check_nonnegative, check_probability, check_real

N_CLASSES_1D = 10
EPS = 1e-8  # added to the template before padding, so that only the padding is exactly 0 (the noise mask)
SIGMA, TRUNCATE = 2, 4.0  # gaussian_filter(noise, 2), scipy's default truncate

# The ten templates of mnist1d.data.get_templates (12 points each), before whitening.
TEMPLATES_RAW = (
    (5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5),
    (5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5),
    (5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5),
    (5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5),
    (5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5),
    (5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5),
    (5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5),
    (5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5),
    (5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5),
    (5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5),
)


class MNIST1D(NamedTuple):
    """One generated MNIST-1D dataset, split as the package splits it: the first ``int(n * train_split)`` shuffled
    samples are ``x, y``, the rest ``x_test, y_test``. Inputs are float64 of shape (n, final_seq_length),
    standardised over the whole dataset (mean 0, standard deviation 1); labels are int64 in 0..9. The arrays are
    read-only (they are cached and shared); copy one to change it."""

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def templates() -> np.ndarray:
    """The ten digit templates (10, 12), as ``mnist1d.data.get_templates()["x"]``: each row whitened (mean 0, std 1),
    shifted to start at 0, divided by 6."""
    x = np.asarray(TEMPLATES_RAW, dtype=np.float64)
    x -= x.mean(1, keepdims=True)
    x /= x.std(1, keepdims=True)
    x -= x[:, :1]
    return x / 6.0


def gaussian_kernel() -> np.ndarray:
    """The 17 weights of ``scipy.ndimage.gaussian_filter(., sigma=2)``: ``exp(-0.5 / sigma^2 * j^2)``, ``j = -8..8``,
    divided by their sum (scipy's ``_gaussian_kernel1d``)."""
    radius = int(TRUNCATE * SIGMA + 0.5)
    j = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (SIGMA * SIGMA) * j**2)
    return phi / phi.sum()


def gaussian_smooth(noise: np.ndarray) -> np.ndarray:
    """Every row of ``noise`` (n, L) smoothed as ``scipy.ndimage.gaussian_filter(row, 2)`` does it (see the module
    docstring: mirror extension, symmetric-kernel accumulation order)."""
    w = gaussian_kernel()
    r = len(w) // 2
    n = noise.shape[-1]
    # numpy's "symmetric" padding is scipy's "reflect" (the edge sample is repeated); for L < r it keeps mirroring
    padded = np.pad(noise, ((0, 0), (r, r)), mode="symmetric")
    out = padded[:, r : r + n] * w[r]
    for j in range(r, 0, -1):
        out += (padded[:, r - j : r - j + n] + padded[:, r + j : r + j + n]) * w[r - j]
    return out


def interp_linear(y: np.ndarray, n_new: int) -> np.ndarray:
    """Rows of ``y`` (n, m), sampled at ``linspace(0, 1, m)``, evaluated at ``linspace(0, 1, n_new)`` with the
    formula of ``np.interp`` (which ``scipy.interpolate.interp1d(kind="linear")`` calls for 1-D float data): with
    ``j`` the last knot ``<= x``, the value is ``y_j`` on a knot and ``(y_{j+1} - y_j) / (x_{j+1} - x_j) * (x - x_j)
    + y_j`` between knots."""
    m = y.shape[-1]
    x, x_new = np.linspace(0, 1, m), np.linspace(0, 1, n_new)
    j = np.searchsorted(x, x_new, side="right") - 1
    on_knot = (j == m - 1) | (x[j] == x_new)
    j1 = np.minimum(j + 1, m - 1)
    with np.errstate(invalid="ignore", divide="ignore"):  # the knot columns are replaced below
        slope = (y[:, j1] - y[:, j]) / (x[j1] - x[j])
    return np.where(on_knot, y[:, j], slope * (x_new - x[j]) + y[:, j])


class _Draws(NamedTuple):
    """The random numbers of every sample, in the package's order (see the module docstring)."""

    u_pad: np.ndarray
    u_scale: np.ndarray
    shift: np.ndarray
    corr: np.ndarray
    iid: np.ndarray
    u_shear: np.ndarray


def _draw(rs: np.random.RandomState, n: int, length: int, max_translation: int) -> _Draws:
    """Sample by sample, the package's calls ``rand, rand, choice(max_translation), randn(L), randn(L), rand`` made
    with fewer, cheaper calls that read the same stream: ``rand(2)`` is two ``rand()``; ``randn(2 L)`` is two
    ``randn(L)`` (one Gaussian sequence, the cached second value of a pair included); for an int ``a``,
    ``RandomState.choice(a)`` is ``randint(0, a)`` (numpy's legacy code calls it), at a quarter of the cost."""
    u_pad, u_scale, u_shear = np.empty(n), np.empty(n), np.empty(n)
    shift = np.empty(n, dtype=np.int64)
    noise = np.empty((n, 2 * length))
    rand, randint, randn = rs.rand, rs.randint, rs.randn
    for i in range(n):
        u_pad[i], u_scale[i] = rand(2)
        shift[i] = randint(0, max_translation)
        noise[i] = randn(2 * length)
        u_shear[i] = rand()
    return _Draws(u_pad, u_scale, shift, noise[:, :length], noise[:, length:], u_shear)


@functools.lru_cache(maxsize=8)
def _generate(
    num_samples: int,
    train_split: float,
    template_len: int,
    padding: tuple[int, int],
    scale_coeff: float,
    max_translation: int,
    corr_noise_scale: float,
    iid_noise_scale: float,
    shear_scale: float,
    shuffle_seq: bool,
    final_seq_length: int,
    seed: int,
) -> MNIST1D:
    low, high = padding
    length = template_len + high  # every padded template is stretched to this many points
    per_class = num_samples // N_CLASSES_1D
    labels = np.repeat(np.arange(N_CLASSES_1D), per_class)  # class by class, as the package loops
    n = len(labels)
    rs = np.random.RandomState(seed)
    d = _draw(rs, n, length, max_translation)

    # pad with p zeros and stretch to `length` points: depends only on (label, p), so compute each p once
    pads = low + (d.u_pad * (high - low + 1)).astype(np.int64)
    base = templates() + EPS
    x = np.empty((n, length))
    for p in np.unique(pads):
        rows = pads == p
        stretched = interp_linear(np.concatenate([base, np.zeros((N_CLASSES_1D, p))], axis=1), length)
        x[rows] = stretched[labels[rows]]
    x *= (1 + scale_coeff * (d.u_scale - 0.5))[:, None]
    # translate: concatenate([x[-k:], x[:-k]]), a circular shift by k; for k >= length (and k = 0) it is x itself
    k = np.where(d.shift < length, d.shift, 0)
    x = x[np.arange(n)[:, None], (np.arange(length) - k[:, None]) % length]
    # correlated noise fills the padding (the exact zeros), iid noise goes everywhere
    x = np.where(x != 0, x, gaussian_smooth(corr_noise_scale * d.corr))
    x = x + iid_noise_scale * d.iid
    x = x - (shear_scale * (d.u_shear - 0.5))[:, None] * np.linspace(-0.5, 0.5, length)
    x = interp_linear(x, final_seq_length)

    order = rs.permutation(n)
    x, y = x[order], labels[order]
    if shuffle_seq:
        x = x[..., rs.permutation(final_seq_length)]
    x = (x - x.mean()) / x.std()
    split = int(n * train_split)
    parts = (x[:split], y[:split], x[split:], y[split:])
    for a in parts:
        a.flags.writeable = False
    return MNIST1D(*parts)


def load_mnist1d(
    *,
    num_samples: int = 5000,
    train_split: float = 0.8,
    template_len: int = 12,
    padding: tuple[int, int] = (36, 60),
    scale_coeff: float = 0.4,
    max_translation: int = 48,
    corr_noise_scale: float = 0.25,
    iid_noise_scale: float = 2e-2,
    shear_scale: float = 0.75,
    shuffle_seq: bool = False,
    final_seq_length: int = 40,
    seed: int = 42,
) -> MNIST1D:
    """MNIST-1D as ``mnist1d.data.make_dataset`` builds it for the same arguments (its ``get_dataset_args()``
    defaults are these defaults: 4,000 training and 1,000 test signals of 40 points), without changing numpy's global
    random state. Cached: the same arguments return the same read-only arrays.

    Each of the ``num_samples // 10`` signals per digit is its template plus ``1e-8``, padded on the right with
    ``p = low + floor(u (high - low + 1))`` zeros (``padding = (low, high)``), stretched linearly to
    ``template_len + high`` points, multiplied by ``1 + scale_coeff (u - 1/2)``, shifted circularly by ``k``,
    ``0 <= k < max_translation``; the zeros (the padding) are replaced by Gaussian-smoothed noise of scale
    ``corr_noise_scale``, iid noise of scale ``iid_noise_scale`` is added, then the shear
    ``- shear_scale (u - 1/2) linspace(-1/2, 1/2)``; finally it is subsampled linearly to ``final_seq_length``
    points. ``u`` are uniform on [0, 1). The signals are shuffled, ``shuffle_seq`` also permutes the positions (the
    same permutation for all), and the whole set is standardised by its mean and standard deviation.

    The inputs stay float64, the package's dtype, so that they equal its output exactly; cast them (``astype(
    np.float32)``) to train, as :func:`mnist1d_task` does.

    Returns:
        An :class:`MNIST1D` ``(x, y, x_test, y_test)``; ``x`` has ``int(n * train_split)`` rows of the ``n = 10 *
        (num_samples // 10)`` signals.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of range: ``num_samples < 10``, ``train_split`` outside [0, 1], ``template_len <
            1``, ``padding`` not ``0 <= low <= high``, ``max_translation < 1``, ``final_seq_length < 1``, a negative
            or non-finite scale, ``seed`` outside [0, 2**32 - 1].
    """
    num_samples = check_int("num_samples", num_samples, minimum=N_CLASSES_1D)
    train_split = check_probability("train_split", train_split)
    template_len = check_int("template_len", template_len, minimum=1)
    if not (isinstance(padding, tuple | list) and len(padding) == 2):
        raise TypeError(f"padding must be a pair (low, high) of ints, got padding={padding!r}")
    low = check_int("padding[0]", padding[0], minimum=0)
    high = check_int("padding[1]", padding[1], minimum=low)
    scale_coeff = check_real("scale_coeff", scale_coeff)
    max_translation = check_int("max_translation", max_translation, minimum=1)
    corr_noise_scale = check_nonnegative("corr_noise_scale", corr_noise_scale)
    iid_noise_scale = check_nonnegative("iid_noise_scale", iid_noise_scale)
    shear_scale = check_nonnegative("shear_scale", shear_scale)
    shuffle_seq = check_bool("shuffle_seq", shuffle_seq)
    final_seq_length = check_int("final_seq_length", final_seq_length, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    if seed > 2**32 - 1:
        raise ValueError(f"seed must be in [0, 2**32 - 1] (np.random.RandomState), got seed={seed!r}")
    return _generate(
        num_samples,
        train_split,
        template_len,
        (low, high),
        scale_coeff,
        max_translation,
        corr_noise_scale,
        iid_noise_scale,
        shear_scale,
        bool(shuffle_seq),
        final_seq_length,
        seed,
    )
