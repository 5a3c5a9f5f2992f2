# R mclust reference results for the GaussianMixtureIC model search.
#
# Runs Mclust(X, G = 1:9) over mclust's default model set (all 14 covariance
# models for multivariate data) on several data sets, times it, and records the
# selected model, G, BIC (mclust sign: higher is better), log-likelihood and the
# full BIC table (models x G, NA/null where a model could not be fitted).
#
# R and mclust are NOT test dependencies of gaussmix.  This script only produces
# reference numbers for speed/quality comparisons; nothing in tests/ runs it.
#
# How to run (Debian/Ubuntu):
#   apt-get install -y r-base-core r-cran-mclust r-cran-jsonlite   # jsonlite optional
#   mkdir -p /tmp/mclust_ref
#   # wine / breast_cancer must be scikit-learn's versions (mclust's own `wine`
#   # has 27 columns and is a different data set), so export them from Python:
#   python -c "from sklearn.datasets import load_wine, load_breast_cancer; import pandas as pd; \
#     [pd.DataFrame(d.data, columns=d.feature_names).to_csv(f'/tmp/mclust_ref/{n}.csv', index=False) \
#      for n, d in [('wine', load_wine()), ('breast_cancer', load_breast_cancer())]]"
#   Rscript benchmarks/mclust_search.R [--out=/tmp/mclust_ref] [--wine=PATH] \
#       [--breast-cancer=PATH] [--reps=5] [--bc-limit=120]
#
# Data sets: faithful (R datasets, 272x2), iris[, 1:4] (150x4), wine (CSV,
# 178x13, skipped if absent), diabetes (mclust's data(diabetes): glucose,
# insulin, sspg; 145x3), breast_cancer (CSV, 569x30, one run only, recorded as
# timed out if it exceeds --bc-limit seconds; skipped if the CSV is absent).
#
# Outputs: <out>/results.json, and <out>/diabetes.csv (glucose,insulin,sspg,class)
# for possible use as a test fixture.

suppressPackageStartupMessages(library(mclust))

## ---- arguments -------------------------------------------------------------
args <- commandArgs(trailingOnly = TRUE)
getarg <- function(name, default) {
  hit <- grep(paste0("^--", name, "="), args, value = TRUE)
  if (length(hit)) sub(paste0("^--", name, "="), "", hit[length(hit)]) else default
}
out_dir  <- getarg("out", "/tmp/mclust_ref")
wine_csv <- getarg("wine", file.path(out_dir, "wine.csv"))
bc_csv   <- getarg("breast-cancer", file.path(out_dir, "breast_cancer.csv"))
reps     <- as.integer(getarg("reps", "5"))
bc_limit <- as.numeric(getarg("bc-limit", "120"))
G        <- 1:9
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

## ---- data ------------------------------------------------------------------
data(diabetes, package = "mclust")
diab <- diabetes[, c("glucose", "insulin", "sspg")]
write.csv(data.frame(diab, class = as.character(diabetes$class)),
          file.path(out_dir, "diabetes.csv"), row.names = FALSE)

datasets <- list(
  faithful = list(X = datasets::faithful, reps = reps),
  iris     = list(X = datasets::iris[, 1:4], reps = reps)
)
if (file.exists(wine_csv)) {
  datasets$wine <- list(X = read.csv(wine_csv, check.names = FALSE), reps = reps)
} else message("wine CSV not found at ", wine_csv, ": skipping wine")
datasets$diabetes <- list(X = diab, reps = reps)
if (file.exists(bc_csv)) {
  datasets$breast_cancer <- list(X = read.csv(bc_csv, check.names = FALSE),
                                 reps = 1L, limit = bc_limit)
} else message("breast_cancer CSV not found at ", bc_csv, ": skipping breast_cancer")

## ---- run -------------------------------------------------------------------
run_one <- function(X, limit = Inf) {
  fit_timed <- function() {
    el <- system.time(
      fit <- tryCatch(Mclust(X, G = G, verbose = FALSE),
                      error = function(e) structure(conditionMessage(e), class = "failed"))
    )[["elapsed"]]
    list(fit = fit, elapsed = unname(el))
  }
  if (!is.finite(limit)) return(fit_timed())
  # setTimeLimit() cannot interrupt mclust's Fortran code, so enforce the limit
  # by running in a forked child and killing it (Unix only).
  job <- parallel::mcparallel(fit_timed(), silent = TRUE)
  res <- parallel::mccollect(job, wait = FALSE, timeout = limit)
  if (is.null(res)) {
    tools::pskill(job$pid, tools::SIGKILL)
    parallel::mccollect(job, wait = TRUE)        # reap the child
    return(list(fit = structure("time limit reached", class = "failed"),
                elapsed = limit))
  }
  res[[1]]
}

results <- list()
for (nm in names(datasets)) {
  ds <- datasets[[nm]]
  X <- as.matrix(ds$X)
  lim <- if (is.null(ds$limit)) Inf else ds$limit
  times <- numeric(0); fit <- NULL; status <- "ok"; sel <- character(0)
  for (r in seq_len(ds$reps)) {
    message(sprintf("[%s] %s rep %d/%d", format(Sys.time(), "%H:%M:%S"), nm, r, ds$reps))
    ro <- run_one(X, lim)
    if (inherits(ro$fit, "failed")) {
      status <- if (grepl("time limit", ro$fit)) sprintf("timeout (> %g s)", lim)
                else paste("error:", unclass(ro$fit))
      times <- c(times, ro$elapsed)
      break
    }
    times <- c(times, ro$elapsed)
    fit <- ro$fit
    sel <- c(sel, paste(fit$modelName, fit$G))
  }
  res <- list(n = nrow(X), d = ncol(X), reps = length(times), status = status,
              elapsed_s = times, median_s = median(times), min_s = min(times))
  if (!is.null(fit) && status == "ok") {
    B <- unclass(fit$BIC)                      # G x models
    B <- B[, , drop = FALSE]
    attributes(B) <- attributes(B)[c("dim", "dimnames")]
    Bt <- t(B)                                 # models x G
    ord <- order(Bt, decreasing = TRUE, na.last = NA)[1:3]
    top3 <- lapply(ord, function(i) {
      idx <- arrayInd(i, dim(Bt))
      list(model = rownames(Bt)[idx[1]], G = as.integer(colnames(Bt)[idx[2]]),
           BIC = Bt[i])
    })
    res <- c(res, list(
      selected_consistent = length(unique(sel)) == 1,
      model = fit$modelName, G = fit$G, BIC = fit$bic, loglik = fit$loglik,
      df = fit$df,
      top3 = top3,
      bic_models = rownames(Bt), bic_G = as.integer(colnames(Bt)),
      bic_table = lapply(seq_len(nrow(Bt)), function(i) unname(Bt[i, ]))
    ))
    names(res$bic_table) <- rownames(Bt)
  }
  results[[nm]] <- res
}

## ---- metadata --------------------------------------------------------------
si <- sessionInfo()
meta <- list(
  R_version = R.version.string,
  mclust_version = as.character(packageVersion("mclust")),
  platform = R.version$platform,
  BLAS = if (!is.null(si$BLAS)) si$BLAS else NA,
  LAPACK = if (!is.null(si$LAPACK)) si$LAPACK else NA,
  cpu_cores = parallel::detectCores(),
  hcUse = mclust.options("hcUse"),
  emModelNames = mclust.options("emModelNames"),
  G = G,
  call = "Mclust(X, G = 1:9)",
  bic_sign = "mclust convention: BIC = 2*loglik - df*log(n), higher is better",
  date = format(Sys.time(), "%Y-%m-%d %H:%M:%S %Z")
)
out <- list(meta = meta, results = results)

## ---- JSON ------------------------------------------------------------------
json_path <- file.path(out_dir, "results.json")
if (requireNamespace("jsonlite", quietly = TRUE)) {
  writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, pretty = TRUE,
                              digits = NA, na = "null", null = "null"), json_path)
} else {
  to_json <- function(x) {
    if (is.null(x)) return("null")
    if (is.list(x)) {
      inner <- vapply(x, to_json, "")
      if (!is.null(names(x)))
        return(paste0("{", paste0('"', names(x), '":', inner, collapse = ","), "}"))
      return(paste0("[", paste(inner, collapse = ","), "]"))
    }
    v <- if (is.character(x)) ifelse(is.na(x), "null", paste0('"', gsub('(["\\\\])', "\\\\\\1", x), '"'))
         else if (is.logical(x)) ifelse(is.na(x), "null", tolower(as.character(x)))
         else ifelse(is.na(x), "null", sprintf("%.17g", x))
    if (length(v) == 1) v else paste0("[", paste(v, collapse = ","), "]")
  }
  writeLines(to_json(out), json_path)
}

## ---- summary ---------------------------------------------------------------
cat(sprintf("%s | mclust %s | %s | BLAS: %s\n", meta$R_version, meta$mclust_version,
            meta$platform, basename(meta$BLAS)))
for (nm in names(results)) {
  r <- results[[nm]]
  cat(sprintf("\n== %s (n=%d, d=%d) reps=%d  median %.3f s  min %.3f s  [%s]\n",
              nm, r$n, r$d, r$reps, r$median_s, r$min_s, r$status))
  if (!is.null(r$model)) {
    cat(sprintf("   selected %s,%d  BIC %.4f  loglik %.4f  df %d%s\n", r$model, r$G,
                r$BIC, r$loglik, as.integer(r$df),
                if (isTRUE(r$selected_consistent)) "" else "  (selection varied across reps!)"))
    cat("   top3:", paste(vapply(r$top3, function(t) sprintf("%s,%d %.4f", t$model, t$G, t$BIC), ""),
                          collapse = " | "), "\n")
  }
}
cat("\nwrote", json_path, "and", file.path(out_dir, "diabetes.csv"), "\n")
