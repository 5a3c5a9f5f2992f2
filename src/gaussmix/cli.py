"""The ``gaussmix`` command line: a thin layer over the public Python API."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import GaussianMixture, __version__
from .datasets import FAITHFUL_UNITS, load_faithful


def _format_model(model: GaussianMixture, feature_names) -> str:
    lines = [
        f"GaussianMixture(n_components={model.n_components}, "
        f"covariance_type={model.covariance_type!r})",
        f"  converged: {model.converged_} after {model.n_iter_} iterations; "
        f"mean log-likelihood {model.lower_bound_:.4f}",
    ]
    for k in np.argsort(-model.weights_):
        mean = ", ".join(
            f"{name}={value:.3f} {FAITHFUL_UNITS.get(name, '')}".rstrip()
            for name, value in zip(feature_names, model.means_[k])
        )
        lines.append(f"  component {k}: weight {model.weights_[k]:.3f}; mean {mean}")
    return "\n".join(lines)


def _lab(args) -> int:
    X, feature_names = load_faithful()
    model = GaussianMixture(
        n_components=args.components,
        covariance_type=args.covariance,
        n_init=5,
        random_state=args.seed,
    ).fit(X)
    print(f"Old Faithful geyser data: {X.shape[0]} eruptions, features {feature_names}")
    print(_format_model(model, feature_names))
    print(f"  BIC {model.bic(X):.2f}   AIC {model.aic(X):.2f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gaussmix`` command."""
    parser = argparse.ArgumentParser(
        prog="gaussmix",
        description="Gaussian mixture models: clustering and density estimation.",
    )
    parser.add_argument("--version", action="version", version=f"gaussmix {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    lab = commands.add_parser(
        "lab",
        help="fit a Gaussian mixture to the bundled Old Faithful data and print it",
        description="Fit a Gaussian mixture to the Old Faithful geyser data shipped with "
        "gaussmix and print the fitted model.",
        epilog="example: gaussmix lab --components 3 --covariance diag",
    )
    lab.add_argument("--components", type=int, default=2, help="number of components (2)")
    lab.add_argument(
        "--covariance",
        default="full",
        choices=["full", "tied", "diag", "spherical"],
        help="covariance type (full)",
    )
    lab.add_argument("--seed", type=int, default=0, help="random seed (0)")
    lab.set_defaults(handler=_lab)
    return parser


def main(argv=None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"gaussmix: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
