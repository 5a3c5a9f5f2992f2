"""``GaussianMixtureRegressor``: regression by the conditional mean of a joint Gaussian mixture."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..covariance import COVARIANCE_MODELS, get_covariance_model
from ..engine.missing import conditional_moments
from .gaussian_mixture import GaussianMixture


class GaussianMixtureRegressor(RegressorMixin, BaseEstimator):
    """Mixture regression: a Gaussian mixture of ``[X, y]``, predicting ``E[y | x]``.

    ``fit`` fits a :class:`GaussianMixture` to the joint rows ``[X, y]``;
    ``predict`` gives, for each row of ``X``, the conditional mean of ``y``
    under the mixture, ``sum_k p(k | x) (mu_ky + S_kyx inv(S_kxx) (x - mu_kx))``:
    locally linear, globally nonlinear (Ghahramani & Jordan 1994). With
    ``return_std=True`` also the conditional standard deviation of each output
    (within-component spread plus the spread of the components' means). Rows of
    ``X`` may have missing values (NaN), in ``fit`` and ``predict``: the
    mixture models them.

    Parameters
    ----------
    n_components : int, default=5
    covariance_type : str, default='full'
        Any of :class:`GaussianMixture`'s; only the full-matrix ones ('full'
        and the mclust ellipsoidal models) and 'tied' link y to x within a
        component.
    tol, reg_covar, max_iter, n_init, init_params, random_state : as in :class:`GaussianMixture`

    Attributes
    ----------
    mixture_ : GaussianMixture
        The joint mixture over ``n_features_in_ + n_outputs_`` features, y last.
    n_outputs_ : int
    n_iter_ : int
        EM iterations of the mixture's best start.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Present when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixtureRegressor
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 6, (500, 1))
    >>> y = np.sin(x[:, 0]) + 0.1 * rng.standard_normal(500)
    >>> reg = GaussianMixtureRegressor(n_components=8, random_state=0).fit(x, y)
    >>> bool(abs(reg.predict([[1.5]])[0] - np.sin(1.5)) < 0.15)
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(COVARIANCE_MODELS.keys())],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++", "hc"})],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=5,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        random_state=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Fit the joint mixture of ``[X, y]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            May hold missing values (NaN).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Finite targets.

        Returns
        -------
        self : GaussianMixtureRegressor
        """
        self._validate_params()
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            ensure_all_finite="allow-nan",
            dtype=np.float64,
            ensure_min_samples=2,
        )
        self._single_output = y.ndim == 1
        Y = y.reshape(len(y), -1)
        self.n_outputs_ = Y.shape[1]
        self.mixture_ = GaussianMixture(
            n_components=self.n_components,
            covariance_type=self.covariance_type,
            tol=self.tol,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            n_init=self.n_init,
            init_params=self.init_params,
            random_state=self.random_state,
        ).fit(np.hstack([X, Y]))
        self.n_iter_ = self.mixture_.n_iter_
        return self

    def predict(self, X, return_std=False):
        """The conditional mean of y given each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            May hold missing values, not a row of them only.
        return_std : bool, default=False
            Also return the conditional standard deviation of each output.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        y_std : ndarray, same shape
            Only with ``return_std=True``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype=np.float64)
        empty = np.flatnonzero(np.isnan(X).all(axis=1)) if X.shape[1] else np.arange(len(X))
        if empty.size:
            raise ValueError(
                f"X has {empty.size} row(s) with no observed value (every value NaN), "
                f"first row {int(empty[0])}: nothing to predict from. Drop them."
            )
        joint = np.hstack([X, np.full((X.shape[0], self.n_outputs_), np.nan)])
        mixture = self.mixture_
        filled, _, _, variance = conditional_moments(
            joint,
            mixture._fitted_params(),
            get_covariance_model(mixture.covariance_type),
            variances=True,
        )
        mean = filled[:, -self.n_outputs_ :]
        std = np.sqrt(variance[:, -self.n_outputs_ :])
        if self._single_output:
            mean, std = mean[:, 0], std[:, 0]
        return (mean, std) if return_std else mean
