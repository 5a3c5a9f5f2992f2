"""Chunk kernels, and the choice of a model's kernel by its estimated cost.

A covariance model lists the kernels that can compute its log-densities and
sufficient statistics (``kernels``, see :class:`ChunkKernels`). They give the
same numbers and differ in work and memory:

- :class:`ExpandedFeatureKernel` expands each centred row into ``phi(x) =
  [q(x), x, 1]`` once for all components, so both the log-densities and the
  statistics of every component are one GEMM each. Its scratch per row grows
  with the quadratic features: ``D(D+1)/2`` for a full covariance.
- :class:`WhiteningKernel` (full covariance) whitens the chunk once per
  component, ``y = P_k' (x - mu_k)``, and forms each component's statistics
  as ``X' diag(r_k) X``: a product per component, in GEMMs as wide as the
  features, and scratch of ``D`` per row.

:func:`choose_kernel` estimates each kernel's seconds per row from its GEMM
flops (thin GEMMs run below peak), the bytes its element-wise passes stream,
and its calls and fixed-size arrays per chunk (a chunk holding what the
scratch budget allows), and takes the cheapest of those whose row fits the
budget. The choice is made per ``(n_components, n_features, dtype)``: both
kernels scale with the rows alike. The constants reproduce the crossover
measured by ``benchmarks/bench_highdim.py --only kernels`` (BENCHMARKS.md,
"High dimension").
"""

from __future__ import annotations

import copy
import os
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ._base import LOG_2PI, Prepared, flat_buffers, scratch

# Scratch bytes of one chunk (one worker thread's buffers), at any number of
# features. 4 MiB beat 1 MiB by 1.3-1.5x with two threads on 2-core AVX-512
# machines (benchmarks/bench_em.py): a chunk's Python-level dispatch holds the GIL.
SCRATCH_BUDGET = int(os.environ.get("GAUSSMIX_CHUNK_BYTES", 4 << 20))
# Larger chunks gained nothing in those measurements.
MAX_CHUNK_ROWS = 8192


def chunk_rows(bytes_per_row: int, budget: int = SCRATCH_BUDGET) -> int:
    """Rows per chunk whose scratch stays within ``budget`` (at least one row)."""
    return int(min(MAX_CHUNK_ROWS, max(1, budget // max(1, int(bytes_per_row)))))


class Cost(NamedTuple):
    """What one kernel does per row and per chunk (one E-step and its statistics).

    Attributes
    ----------
    gemm_flops : float
        Flops per row in BLAS matrix products.
    gemm_width : float
        The smallest dimension of those products other than the rows (the
        number of components for the expanded kernel, of features for the
        whitening one): thin products run far below the machine's peak.
    streamed : float
        Elements per row read or written by element-wise passes.
    scratch : int
        Scratch elements per row, the chunk's centred rows included.
    calls : float
        NumPy calls per chunk.
    chunk_streamed : float
        Elements per chunk written or read whatever its length (per-chunk
        matrices and the chunk's statistics, freshly allocated).
    """

    gemm_flops: float
    gemm_width: float
    streamed: float
    scratch: int
    calls: float
    chunk_streamed: float


# Per-core GEMM peak, the GEMM width that halves it, bandwidth of element-wise
# passes over cached data, dispatch per call, and the rate at which freshly
# allocated per-chunk arrays are written (page faults included). Set from a
# least-squares fit of the measured time ratio of the two kernels (one thread,
# K in 2-32, D in 2-512, on the 2-vCPU Xeon of BENCHMARKS.md "High dimension"),
# rounded; the choice depends on their ratios only.
GEMM_FLOPS_PER_SECOND = {4: 60e9, 8: 30e9}
GEMM_HALF_WIDTH = 10.0
STREAM_BYTES_PER_SECOND = 60e9
SECONDS_PER_CALL = 1e-6
CHUNK_BYTES_PER_SECOND = 2e9


def seconds_per_row(cost: Cost, itemsize: int, budget: int = SCRATCH_BUDGET) -> float:
    """Estimated seconds per row of a kernel with ``cost``, in chunks that fit ``budget``."""
    rows = chunk_rows(cost.scratch * itemsize, budget)
    efficiency = cost.gemm_width / (cost.gemm_width + GEMM_HALF_WIDTH)
    seconds = cost.gemm_flops / (GEMM_FLOPS_PER_SECOND[itemsize] * efficiency)
    seconds += cost.streamed * itemsize / STREAM_BYTES_PER_SECOND
    per_chunk = cost.calls * SECONDS_PER_CALL
    per_chunk += cost.chunk_streamed * itemsize / CHUNK_BYTES_PER_SECOND
    return seconds + per_chunk / rows


# Cached: the estimate takes ~20 us, a tenth of a whole EM iteration on small data.
@lru_cache(maxsize=512)
def choose_kernel(model, kernels, n_components: int, n_features: int, dtype):
    """The kernel of ``kernels`` with the least estimated time per row for this shape.

    A kernel one row of which needs more scratch than the budget is left out
    while another fits: chunks are bounded by the budget at any number of features.
    """
    itemsize = np.dtype(dtype).itemsize
    if len(kernels) == 1:
        return kernels[0]
    costs = [kernel.cost(model, n_components, n_features) for kernel in kernels]
    fitting = [i for i, cost in enumerate(costs) if cost.scratch * itemsize <= SCRATCH_BUDGET]
    candidates = fitting or range(len(kernels))
    best = min(candidates, key=lambda i: seconds_per_row(costs[i], itemsize))
    return kernels[best]


class ChunkKernels:
    """Mixin: a model's chunk kernels, the cheapest for each shape chosen by cost.

    A subclass lists ``kernels`` (kernel objects, see :class:`ExpandedFeatureKernel`);
    ``prepare``, ``workspace``, ``weighted_log_prob`` and ``moments`` of the
    :class:`~gaussmix.covariance.CovarianceModel` contract run the one that
    :func:`choose_kernel` picks for ``(n_components, n_features, dtype)``, the
    same for ``prepare`` and ``workspace`` of a pass; ``prepare`` records it in
    :attr:`Prepared.kernel`.
    """

    kernels: tuple = ()
    #: The name of the kernel to run whatever the cost (see :meth:`with_kernel`).
    forced_kernel: str | None = None

    @property
    def kernel_names(self) -> tuple:
        """Names of the kernels this model can run."""
        return tuple(kernel.name for kernel in self.kernels)

    def with_kernel(self, name: str):
        """A copy of the model that always runs the kernel called ``name``.

        For tests and benchmarks: both kernels of a model give the same numbers.
        """
        if name not in self.kernel_names:
            raise ValueError(
                f"covariance model {self.name!r} has no kernel {name!r}; it has "
                f"{', '.join(self.kernel_names)}."
            )
        forced = copy.copy(self)
        forced.forced_kernel = name
        return forced

    def kernel_for(self, n_components: int, n_features: int, dtype):
        """The kernel that runs for chunks of ``n_features`` and ``n_components``, in ``dtype``."""
        if self.forced_kernel is not None:
            return self.kernels[self.kernel_names.index(self.forced_kernel)]
        return choose_kernel(self, self.kernels, n_components, n_features, dtype)

    def prepare(self, means_shifted, precisions_chol, log_weights, dtype):
        n_components, n_features = means_shifted.shape
        kernel = self.kernel_for(n_components, n_features, dtype)
        # Every kernel's prepare names itself in the Prepared it returns.
        return kernel.prepare(self, means_shifted, precisions_chol, log_weights, dtype)

    def workspace(self, n_rows, n_components, n_features, dtype):
        kernel = self.kernel_for(n_components, n_features, dtype)
        return kernel.workspace(self, n_rows, n_components, n_features, dtype)

    def weighted_log_prob(self, XcT, prepared, work):
        return prepared.kernel.weighted_log_prob(self, XcT, prepared, work)

    def moments(self, XcT, resp_weighted, sample_weight, prepared, work):
        return prepared.kernel.moments(self, XcT, resp_weighted, sample_weight, prepared, work)


def log_norm(model, precisions_chol, n_features: int) -> np.ndarray:
    """``log det P_k - n_features / 2 * log(2 pi)`` per component, float64."""
    log_det = np.asarray(model.log_det_cholesky(precisions_chol, n_features), dtype=np.float64)
    return log_det - 0.5 * n_features * LOG_2PI


class ExpandedFeatureKernel:
    """Kernels for models whose log-density is linear in expanded features of x.

    ``log pi_k + log N(x | mu_k, Sigma_k) = c_k . phi(x)`` with
    ``phi(x) = [q(x), x, 1]``, where ``q(x)`` are a model's quadratic features
    (all products ``x_i x_j`` for a full covariance, the squares for a diagonal
    one, ``|x|^2`` for a spherical one). The chunk is expanded once, shared by
    all components; then the weighted log-probabilities of every component are
    one GEMM ``C @ phi`` and the statistics ``[sum r q(x), sum r x, sum r]`` of
    every component are one GEMM ``resp @ phi'``. The model supplies
    ``n_quadratic``, ``fill_quadratic``, ``quadratic_calls`` and ``expansion``.
    """

    name = "expanded"

    def cost(self, model, n_components, n_features):
        n_expanded = model.n_quadratic(n_features) + n_features + 1
        return Cost(
            # C @ phi and resp @ phi', each 2 K flops per expanded feature.
            gemm_flops=4.0 * n_components * n_expanded,
            gemm_width=n_components,
            # phi is written once and read by both GEMMs.
            streamed=3.0 * n_expanded + n_features,
            scratch=n_expanded + n_components + n_features,
            calls=model.quadratic_calls(n_features) + 8,
            # Per chunk: C read, resp @ phi' written, the statistics merged.
            chunk_streamed=5.0 * n_components * n_expanded,
        )

    def prepare(self, model, means_shifted, precisions_chol, log_weights, dtype):
        quadratic, linear, constant = model.expansion(means_shifted, precisions_chol)
        n_features = means_shifted.shape[1]
        norm = log_norm(model, precisions_chol, n_features)
        n_quadratic = quadratic.shape[1]
        coefficients = np.empty((norm.size, n_quadratic + n_features + 1), dtype=dtype)
        coefficients[:, :n_quadratic] = quadratic
        coefficients[:, n_quadratic:-1] = linear
        constant += norm
        constant += log_weights
        coefficients[:, -1] = constant
        return Prepared(
            log_norm=norm.astype(dtype, copy=False),
            arrays={"coefficients": coefficients},
            kernel=self,
        )

    def workspace(self, model, n_rows, n_components, n_features, dtype):
        n_expanded = model.n_quadratic(n_features) + n_features + 1
        return flat_buffers(dtype, features=n_expanded * n_rows, log_prob=n_components * n_rows)

    @staticmethod
    def _features(model, XcT, work):
        n_features, n_rows = XcT.shape
        n_expanded = model.n_quadratic(n_features) + n_features + 1
        return scratch(work, "features", (n_expanded, n_rows))

    def weighted_log_prob(self, model, XcT, prepared, work):
        n_features, n_rows = XcT.shape
        features = self._features(model, XcT, work)
        # The features depend on the chunk alone: a backend that hands the same
        # chunk (array object) with the same scratch again (small data, one chunk
        # for every pass; see InMemoryBackend) finds them already expanded.
        if work.get("features_of") is not XcT:
            n_quadratic = model.n_quadratic(n_features)
            model.fill_quadratic(XcT, features[:n_quadratic])
            features[n_quadratic:-1] = XcT
            features[-1] = 1.0
            work["features_of"] = XcT
        log_prob = scratch(work, "log_prob", (prepared.log_norm.size, n_rows))
        # np.dot, unlike np.matmul, releases the GIL around BLAS for these shapes.
        np.dot(prepared.arrays["coefficients"], features, out=log_prob)
        return log_prob

    def moments(self, model, XcT, resp_weighted, sample_weight, prepared, work):
        # Relies on weighted_log_prob having left this chunk's features in `work`.
        n_quadratic = model.n_quadratic(XcT.shape[0])
        features = self._features(model, XcT, work)
        if features.dtype == np.float32:
            # OpenBLAS's sgemm runs this long-inner-dimension product about twice as
            # fast with the features as the left operand; dgemm does not.
            sums = np.dot(features, resp_weighted.T).T
        else:
            sums = np.dot(resp_weighted, features.T)
        return sums[:, -1], sums[:, n_quadratic:-1], sums[:, :n_quadratic]


# Rows of the triangular products per GEMM in the whitening kernel: large enough
# to keep each GEMM near peak, small against thousands of features so that the
# triangles' zeros cost little (a fraction BLOCK / D more flops).
BLOCK = 128


def _blocks(n_features: int):
    return [(start, min(start + BLOCK, n_features)) for start in range(0, n_features, BLOCK)]


class WhiteningKernel:
    """Per-component kernels for a full covariance stored as ``(K, D, D)`` matrices.

    Log-densities from ``|y|^2`` with ``y = P_k' x - P_k' mu_k``, a product
    with the precision factor per component (scikit-learn's
    ``_estimate_log_gaussian_prob``); statistics from ``X' diag(r_k) X`` per
    component, the upper triangle packed as the expanded kernel gives it. Both
    products are triangular: they run in blocks of ``BLOCK`` rows that skip the
    zero (or mirrored) part, so that at large D they take about the flops of
    the expanded kernel, in GEMMs wide enough to run near peak. Scratch of one
    whitened chunk, ``D`` per row, whatever the number of features, plus one
    ``BLOCK x D`` product per thread.
    """

    name = "whitening"

    def cost(self, model, n_components, n_features):
        n_packed = n_features * (n_features + 1) // 2
        blocks = -(-n_features // BLOCK)
        return Cost(
            # Two triangular products per component, of about D (D + BLOCK) flops each.
            gemm_flops=2.0 * n_components * n_features * (n_features + min(n_features, BLOCK)),
            gemm_width=n_features,
            # Per component: y written, shifted, squared and summed; the weighted
            # rows written and read, with the rows, by the second product.
            streamed=9.0 * n_components * n_features,
            scratch=2 * n_features + n_components,
            # Packing copies one row of the products at a time.
            calls=n_components * (n_features + 2 * blocks + 6) + 4,
            # Per chunk: the products written and read to pack them, the packed
            # statistics written and merged.
            chunk_streamed=n_components * (n_features**2 + 4.0 * n_packed),
        )

    def prepare(self, model, means_shifted, precisions_chol, log_weights, dtype):
        n_features = means_shifted.shape[1]
        norm = log_norm(model, precisions_chol, n_features)
        # P_k' is lower triangular: row i of y = P_k' x needs x_0 .. x_i only. A
        # transposed view, not a copy (BLAS reads either order): at thousands of
        # features a copy is as large as the parameters.
        factors_t = np.swapaxes(precisions_chol, 1, 2).astype(dtype, copy=False)
        bias = np.einsum("kji,kj->ki", precisions_chol, means_shifted)
        return Prepared(
            log_norm=norm.astype(dtype),
            arrays={
                "factors_t": factors_t,
                "bias": np.ascontiguousarray(bias[:, :, None], dtype=dtype),
                "constant": (norm + log_weights).astype(dtype)[:, None],
            },
            kernel=self,
        )

    def workspace(self, model, n_rows, n_components, n_features, dtype):
        return flat_buffers(dtype, whitened=n_features * n_rows, log_prob=n_components * n_rows)

    def weighted_log_prob(self, model, XcT, prepared, work):
        n_features, n_rows = XcT.shape
        factors_t, bias = prepared.arrays["factors_t"], prepared.arrays["bias"]
        whitened = scratch(work, "whitened", (n_features, n_rows))
        log_prob = scratch(work, "log_prob", (prepared.log_norm.size, n_rows))
        blocks = _blocks(n_features)
        for k in range(log_prob.shape[0]):
            for start, stop in blocks:
                np.dot(factors_t[k, start:stop, :stop], XcT[:stop], out=whitened[start:stop])
            whitened -= bias[k]
            np.einsum("ij,ij->j", whitened, whitened, out=log_prob[k])
        log_prob *= -0.5
        log_prob += prepared.arrays["constant"]
        return log_prob

    def moments(self, model, XcT, resp_weighted, sample_weight, prepared, work):
        n_features, n_rows = XcT.shape
        n_components = resp_weighted.shape[0]
        weighted = scratch(work, "whitened", (n_features, n_rows))
        # One BLOCK x D product per thread, reused from chunk to chunk; fixed in
        # size, so not part of the per-row workspace.
        product = work.get("product")
        if product is None or product.dtype != XcT.dtype:
            size = min(BLOCK, n_features) * n_features
            product = work["product"] = np.empty(size, dtype=XcT.dtype)
        second = np.empty((n_components, n_features * (n_features + 1) // 2))
        blocks = _blocks(n_features)
        for k in range(n_components):
            np.multiply(XcT, resp_weighted[k], out=weighted)
            packed, offset = second[k], 0
            for start, stop in blocks:
                # Rows start..stop-1 of X' diag(r_k) X from column `start` on: the
                # upper triangle of those rows and a small square below it.
                rows = product[: (stop - start) * (n_features - start)]
                rows = rows.reshape(stop - start, n_features - start)
                np.dot(weighted[start:stop], XcT[start:].T, out=rows)
                for i in range(stop - start):
                    width = n_features - start - i
                    packed[offset : offset + width] = rows[i, i:]
                    offset += width
        nk = resp_weighted.sum(axis=1, dtype=np.float64)
        return nk, np.dot(resp_weighted, XcT.T), second
