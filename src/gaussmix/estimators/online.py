"""``GaussianMixture.partial_fit``: online (stepwise) EM over batches that never return.

The numerics are :mod:`gaussmix.engine.online`; this module validates each batch,
keeps the stream's state on the estimator (``_online_state``) and stores the
fitted attributes.

How a stream runs
-----------------
- **Its first batch.** On an unfitted estimator (or one whose ``n_components``
  or ``covariance_type`` no longer match its fitted attributes), the batch is
  validated as :meth:`~gaussmix.GaussianMixture.fit` validates ``X``, the start
  is drawn from it exactly as ``fit`` draws its first start (``init_params``,
  ``weights_init``/``means_init``/``precisions_init``, ``random_state``; one
  start, ``n_init`` does not apply), and ``prior`` is resolved from it. The
  batch's E-step statistics under the start become the running statistics whole
  (step 1): the first call is exactly ``fit`` with ``max_iter=1`` on that batch.
- **After fit.** A model fitted by ``fit`` (or loaded from a model file) is the
  stream's batch 0: the running statistics start as those its parameters imply
  (:func:`gaussmix.engine.online.implied_statistics`, whose M-step gives the
  fitted parameters back), and the first batch is the first update, with step
  ``(1 + learning_offset) ** -learning_decay``. The fit's rows are gone, so this
  is all that can carry the fit forward; a first batch that is not representative
  (one cluster's rows only) then moves the model by that step, not all the way.
  With a prior, the fitted parameters (posterior modes) stand for the statistics,
  and the prior enters again at each update's M-step.
- **The centre.** Statistics are moments about a point fixed for the stream: the
  first batch's weighted mean, or after ``fit`` the fitted mixture's mean
  ``weights_ @ means_`` (what scoring centres on).
- **Step sizes.** Batch ``t`` of the stream (``t = 0`` for the first batch, or
  for the fitted model) gets the step ``(t + learning_offset) ** -learning_decay``
  for ``t >= 1`` and 1 for ``t = 0`` (:func:`gaussmix.engine.online.step_size`):
  ``t`` counts the updates. ``learning_decay`` and ``learning_offset`` are read at
  every call, so a stream may change them.
- **The M-step** sees the running statistics rescaled to the batch's total weight
  (:func:`gaussmix.engine.online.stepwise_em_step`): a step of 1 is then exactly
  batch EM's iteration, and ``reg_covar`` and a prior weigh as against one batch.
- **Weights.** ``sample_weight`` weighs rows within their batch (rescaled to mean
  one, as ``fit`` does); every batch enters by its step whatever its size or total
  weight. A batch whose weights are all zero is refused.
- **Collapse.** As in ``fit``, a collapsed component is re-seeded on the batch's
  worst-explained rows with the batch's pooled covariance
  (:class:`gaussmix.engine.collapse.CollapseHandler`), from a budget of
  ``2 * n_components`` re-seeds for the whole stream; afterwards empty components
  are frozen. The running statistics are left as they are: the re-seeded
  parameters drive the next batch's E-step, whose statistics enter with its step.
- **Attributes.** After each batch: the parameters of the M-step, ``lower_bound_``
  the batch's weighted mean log-likelihood under the parameters *before* the
  update (a held-out estimate: the batch was not yet seen), appended to
  ``lower_bounds_``; ``n_iter_`` counts passes, one per batch (after ``fit``,
  continuing fit's count, so ``n_iter_ == len(lower_bounds_)`` as after ``fit``);
  ``converged_`` is False (a stream has no end to converge at: ``tol`` and
  ``max_iter`` do not apply); ``labels_`` are the batch's most probable
  components under the updated model (as ``MiniBatchKMeans.partial_fit``);
  ``prior_`` is the stream's prior.
- **Refusals.** A later batch with another number of features (or other feature
  names), or of the other dtype family (float32 versus float64), is refused with a
  ValueError; the first batch needs at least ``n_components`` rows.

``sklearn.base.clone`` drops the state (it copies parameters only), and ``fit``
replaces the fitted attributes, which this module notices (the state remembers
the ``means_`` array it stored): the next ``partial_fit`` then continues from the
refitted model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from ..backends import float_dtype
from ..covariance import get_covariance_model
from ..engine.collapse import CollapseHandler
from ..engine.online import implied_statistics, step_size, stepwise_em_step
from ..engine.params import EMResult, MixtureParams
from ..engine.passes import label_rows
from ..engine.prior import resolve_prior
from ..engine.stats import SufficientStatistics
from ._validation import check_reg_covar, check_sample_weight, check_scale, validated_X
from .gaussian_mixture import _backend, _streamed


@dataclass
class OnlineState:
    """What a stream of ``partial_fit`` calls carries from one batch to the next.

    Attributes
    ----------
    centre : ndarray of shape (n_features,)
        The point the running statistics' moments are taken about.
    running : SufficientStatistics
        The running statistics, per unit weight (``nk`` sum to one).
    t : int
        Batches that have entered ``running``; the next batch has index ``t``.
    params : MixtureParams
        The current parameters in float64 (the stored attributes may be float32).
    dtype : numpy dtype
        The stream's dtype, float32 or float64.
    n_components : int
    covariance_type : str
    prior : ConjugatePrior or None
        Resolved once per stream.
    collapse_budget : int
        Re-seeds left to the stream.
    collapse_frozen : frozenset of int
        Components frozen empty.
    means : ndarray
        The ``means_`` array this module stored last: when the estimator's
        ``means_`` is another object, ``fit`` (or the user) replaced the model.
    """

    centre: np.ndarray
    running: SufficientStatistics
    t: int
    params: MixtureParams
    dtype: np.dtype
    n_components: int
    covariance_type: str
    prior: object
    collapse_budget: int
    collapse_frozen: frozenset
    means: np.ndarray


def partial_fit(estimator, X, sample_weight=None):
    """Update ``estimator`` (a :class:`~gaussmix.GaussianMixture`) with one batch.

    See the module's docstring for how a stream starts, steps and stores its
    attributes.

    Parameters
    ----------
    estimator : GaussianMixture
    X : array-like of shape (n_samples, n_features)
        The batch.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    None
        ``estimator`` is updated in place.
    """
    estimator._validate_params()
    model = get_covariance_model(estimator.covariance_type)
    state = _stream(estimator)
    if state is not None:
        X = _later_batch(estimator, X, state.dtype)
        _update(estimator, model, X, sample_weight, state)
    elif _fitted_fits(estimator, model):
        _start_from_fitted(estimator, model, X, sample_weight)
    else:
        _start_fresh(estimator, model, X, sample_weight)


# ------------------------------------------------------------------ starting
def _stream(estimator) -> OnlineState | None:
    """The estimator's running stream, or None when a new one must start."""
    state = getattr(estimator, "_online_state", None)
    if state is None:
        return None
    if (
        getattr(estimator, "means_", None) is not state.means
        or estimator.n_components != state.n_components
        or estimator.covariance_type != state.covariance_type
    ):
        return None
    return state


def _fitted_fits(estimator, model) -> bool:
    """Whether the estimator holds fitted parameters of its current structure."""
    if not hasattr(estimator, "means_") or not hasattr(estimator, "covariances_"):
        return False
    n_components, n_features = np.shape(estimator.means_)
    return n_components == estimator.n_components and np.shape(estimator.covariances_) == tuple(
        model.covariance_shape(n_components, n_features)
    )


def _start_fresh(estimator, model, X, sample_weight):
    X = validated_X(estimator, X, fit=True)
    n_samples, n_features = X.shape
    n_components = estimator.n_components
    if n_samples < n_components:
        raise ValueError(
            f"partial_fit's first batch has {n_samples} samples, fewer than n_components = "
            f"{n_components}: the start is drawn from the first batch, so it needs at least "
            "n_components samples. Pass a larger first batch or fewer components."
        )
    dtype = float_dtype(X.dtype)
    sample_weight = check_sample_weight(sample_weight, n_samples, dtype, normalize=True)
    if sample_weight is not None and np.count_nonzero(sample_weight) < n_components:
        raise ValueError(
            f"Only {np.count_nonzero(sample_weight)} samples of partial_fit's first batch "
            f"have a positive weight, fewer than n_components = {n_components}."
        )
    model.check_n_features(n_features)
    reg_covar = check_reg_covar(estimator.reg_covar, n_features)
    inits = estimator._checked_inits(model, n_features)
    if _streamed(X) and isinstance(estimator.prior, (str, dict)):
        raise ValueError(
            f"prior={estimator.prior!r} computes its defaults from the whole batch, which "
            "is read block by block here: compute them on a sample, "
            "prior=gaussmix.engine.prior.default_prior(X_sample, n_components, "
            "covariance_type), and pass that ConjugatePrior."
        )
    prior = resolve_prior(
        estimator.prior, X, n_components, estimator.covariance_type, sample_weight
    )
    random_state = check_random_state(estimator.random_state)
    backend = _backend(X, sample_weight, model, n_components)
    centre = backend.centre()
    with backend:
        collapse = CollapseHandler(backend, model, centre, reg_covar, n_components)
        # fit's own first start: the same draw from the same random_state.
        params = estimator._initial_params(
            X, sample_weight, backend, model, centre, inits, random_state, collapse, None, prior
        )
        state = OnlineState(
            centre=centre,
            running=None,
            t=0,
            params=params,
            dtype=dtype,
            n_components=n_components,
            covariance_type=estimator.covariance_type,
            prior=prior,
            collapse_budget=collapse.budget,
            collapse_frozen=frozenset(collapse.frozen),
            means=None,
        )
        _step(estimator, model, backend, state, reg_covar, 0, [], _streamed(X))


def _start_from_fitted(estimator, model, X, sample_weight):
    dtype = np.asarray(estimator.means_).dtype
    X = _later_batch(estimator, X, dtype)
    params = estimator._fitted_params()
    prior = getattr(estimator, "prior_", None)
    if prior is None and estimator.prior is not None and not _streamed(X):
        # A model without its resolved prior (not from this version's fit).
        weights = check_sample_weight(sample_weight, X.shape[0], dtype, normalize=True)
        prior = resolve_prior(
            estimator.prior, X, estimator.n_components, estimator.covariance_type, weights
        )
    # The fitted mixture's mean: the centre scoring uses, near every batch's.
    centre = params.weights @ params.means
    bound = float(getattr(estimator, "lower_bound_", 0.0))
    running = implied_statistics(
        model,
        params,
        centre,
        check_reg_covar(estimator.reg_covar, X.shape[1]),
        log_likelihood=bound if np.isfinite(bound) else 0.0,
    )
    state = OnlineState(
        centre=centre,
        running=running,
        # The fitted model is the stream's batch 0: this batch is its first update.
        t=1,
        params=params,
        dtype=dtype,
        n_components=estimator.n_components,
        covariance_type=estimator.covariance_type,
        prior=prior,
        collapse_budget=2 * estimator.n_components,
        collapse_frozen=frozenset(),
        means=None,
    )
    history = [float(value) for value in getattr(estimator, "lower_bounds_", [])]
    _update(
        estimator,
        model,
        X,
        sample_weight,
        state,
        n_iter=int(getattr(estimator, "n_iter_", 0)),
        history=history,
    )


# ------------------------------------------------------------------ later batches
def _later_batch(estimator, X, dtype):
    """``X`` validated against the stream: its features, names and dtype family."""
    given = getattr(X, "dtype", None)
    try:
        X = validated_X(estimator, X, fit=False)
    except ValueError as exc:
        if "features, but" not in str(exc):
            raise
        # scikit-learn's wording, kept (its checks match it), and what it means here.
        raise ValueError(
            f"{exc} partial_fit: every batch must have the {estimator.n_features_in_} "
            "features of the first batch (or of the data the model was fitted on)."
        ) from None
    if isinstance(X, np.ndarray) and not _streamed(X):
        # As fit checks X (validation for inference does not): sums must not overflow.
        check_scale(X)
    read_as = float_dtype(X.dtype)
    if read_as != dtype:
        read = (
            str(read_as)
            if given is None or str(given) == str(read_as)
            else f"{given} (read as {read_as})"
        )
        raise ValueError(
            f"partial_fit got a batch of dtype {read}, but the model was fitted on "
            f"{np.dtype(dtype)} data: a model keeps one floating-point precision across "
            f"batches. Cast the batch: X.astype(np.{np.dtype(dtype)})."
        )
    return X


def _update(estimator, model, X, sample_weight, state, n_iter=None, history=None):
    sample_weight = check_sample_weight(sample_weight, X.shape[0], state.dtype, normalize=True)
    reg_covar = check_reg_covar(estimator.reg_covar, X.shape[1])
    backend = _backend(X, sample_weight, model, state.n_components)
    if n_iter is None:
        n_iter = int(estimator.n_iter_)
    if history is None:
        # The stream's own list: appended in place, so a long stream does not copy it.
        history = estimator.lower_bounds_
    with backend:
        _step(estimator, model, backend, state, reg_covar, n_iter, history, _streamed(X))


def _step(estimator, model, backend, state, reg_covar, n_iter, history, streamed):
    """Batch ``state.t``: one stepwise-EM step, collapse handling, the attributes stored."""
    step = step_size(state.t, estimator.learning_decay, estimator.learning_offset)
    outcome = stepwise_em_step(
        backend,
        model,
        state.params,
        state.centre,
        state.running,
        step,
        reg_covar,
        state.prior,
    )
    n_iter += 1
    collapse = CollapseHandler(backend, model, state.centre, reg_covar, state.n_components)
    collapse.budget = state.collapse_budget
    collapse.frozen = set(state.collapse_frozen)
    params, _ = collapse.resolve(
        outcome.params, state.params, outcome.empty, outcome.singular, n_iter
    )
    # As fit: no per-row attribute for a batch read block by block (Dask, files).
    labels = None if streamed else label_rows(backend, model, params, state.centre)

    history.append(float(outcome.lower_bound))
    estimator._store(
        EMResult(params=params, lower_bound=outcome.lower_bound, n_iter=n_iter, converged=False),
        model,
        state.dtype,
    )
    estimator.lower_bounds_ = history
    if labels is None:
        estimator.__dict__.pop("labels_", None)
    else:
        estimator.labels_ = labels
    estimator.prior_ = state.prior
    # A screened fit's unfinished starts (GaussianMixtureIC) no longer describe this model.
    estimator._screened_starts = None

    state.running = outcome.running
    state.t += 1
    state.params = params
    state.collapse_budget = collapse.budget
    state.collapse_frozen = frozenset(collapse.frozen)
    state.means = estimator.means_
    estimator._online_state = state
