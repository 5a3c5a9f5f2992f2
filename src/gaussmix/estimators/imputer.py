"""``GaussianMixtureImputer``: missing values filled from a Gaussian mixture fitted to them."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..covariance import COVARIANCE_MODELS
from .gaussian_mixture import GaussianMixture


class GaussianMixtureImputer(TransformerMixin, BaseEstimator):
    """Impute missing values (NaN) from a Gaussian mixture fitted to the incomplete data.

    ``fit`` fits a :class:`GaussianMixture` by EM on incomplete rows
    (Ghahramani & Jordan 1994: no row is dropped or pre-filled); ``transform``
    replaces each row's missing values by their conditional mean given the
    row's observed values under the mixture, or, with ``sample=True``, by a
    draw from that conditional (seeded by ``random_state``; different seeds
    give multiple imputations). Usable in a scikit-learn ``Pipeline``.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : str, default='full'
        Any of :class:`GaussianMixture`'s.
    tol, reg_covar, max_iter, n_init, init_params : as in :class:`GaussianMixture`
    sample : bool, default=False
        Draw the missing values instead of taking their conditional means.
    random_state : int, RandomState instance or None, default=None
        Seed of the fit's start and of the draws.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The fitted mixture.
    n_iter_ : int
        EM iterations of the mixture's best start.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Present when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixtureImputer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.multivariate_normal([0, 0], [[1, 0.9], [0.9, 1]], size=200)
    >>> X[0, 1] = np.nan
    >>> filled = GaussianMixtureImputer(random_state=0).fit_transform(X)
    >>> bool(np.isnan(filled).any())
    False
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(COVARIANCE_MODELS.keys())],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left"), "array-like"],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "random", "random_from_data", "k-means++", "hc"})],
        "sample": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        sample=False,
        random_state=None,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.sample = sample
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X, y=None):
        """Fit the mixture to ``X``, missing values included.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        self : GaussianMixtureImputer
        """
        self._validate_params()
        mixture = GaussianMixture(
            n_components=self.n_components,
            covariance_type=self.covariance_type,
            tol=self.tol,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            n_init=self.n_init,
            init_params=self.init_params,
            random_state=self.random_state,
        )
        self.mixture_ = mixture.fit(X)
        self.n_features_in_ = mixture.n_features_in_
        self.n_iter_ = mixture.n_iter_
        if hasattr(mixture, "feature_names_in_"):
            self.feature_names_in_ = mixture.feature_names_in_
        else:
            self.__dict__.pop("feature_names_in_", None)
        return self

    def transform(self, X):
        """``X`` with its missing values filled (see the class docstring).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        return self.mixture_.impute(X, sample=self.sample, random_state=self.random_state)

    def get_feature_names_out(self, input_features=None):
        """The input features' names: imputation keeps the columns."""
        from sklearn.utils.validation import _check_feature_names_in

        check_is_fitted(self)
        return np.asarray(_check_feature_names_in(self, input_features), dtype=object)
