"""The numerics of EM, as pure functions on arrays, written once for every backend.

- :mod:`~gaussmix.engine.params`: ``MixtureParams`` and ``EMResult``, the state an EM step maps;
- :mod:`~gaussmix.engine.stats`: sufficient statistics, accumulated per chunk, merged by addition;
- :mod:`~gaussmix.engine.estep`: log-densities, responsibilities and statistics of one chunk;
- :mod:`~gaussmix.engine.passes`: whole-data passes (E-step statistics, scoring, M-step,
  first parameters);
- :mod:`~gaussmix.engine.collapse`: re-seeding or freezing collapsed components;
- :mod:`~gaussmix.engine.prior`: the conjugate prior of posterior-mode EM;
- :mod:`~gaussmix.engine.inference`: what an iteration estimates (maximum likelihood,
  posterior mode): the update, the bound; the EM loop's one seam;
- :mod:`~gaussmix.engine.variational`: variational Bayes (Dirichlet or Dirichlet-process
  weights, Gauss-Wishart components) as such an inference;
- :mod:`~gaussmix.engine.em`: the EM loop;
- :mod:`~gaussmix.engine.online`: online (stepwise) EM: step sizes, running statistics, one step;
- :mod:`~gaussmix.engine.criteria`: BIC, AIC, ICL and the detection of spurious fits.

Nothing here imports an estimator, the lab, the figures or the command line.
"""
