# servekit's R worker: one persistent Rscript per uWSGI worker process.
#
#   Rscript --vanilla worker.R SCRIPT FUNCTION SIMPLIFY
#
# Sources SCRIPT once, then answers one JSON line per request on stdin with one JSON line
# on the real stdout. R's own output (print, cat, message) is diverted to stderr, which
# servekit's log collects, so user code can never break the protocol.
#
# Request:  {"args": [...], "kwargs": {...}}
# Replies:  {"ready": true, "formals": [{"name": ..., "has_default": ...}]}  (once, first)
#           {"ok": true, "result": ...} | {"ok": false, "error": "R's message"}
#
# JSON -> R (as Domino documents it): object -> named list, array -> list, string ->
# character, integer -> integer (outside 32 bits -> numeric), real -> numeric,
# true/false -> TRUE/FALSE, null -> NA. With SIMPLIFY = "1", arrays of scalars become
# vectors (so sum(x) works).
# R -> JSON: length-1 vectors as scalars, NA/NaN/Inf as null, factors as strings,
# data.frames as arrays of row objects, matrices by row, Date as ISO date, POSIXct as
# ISO 8601 UTC with Z, doubles with 17 significant digits.

suppressPackageStartupMessages(library(jsonlite))

args <- commandArgs(trailingOnly = TRUE)
script <- args[[1]]
fname <- args[[2]]
simplify <- length(args) >= 3 && args[[3]] == "1"

reply_con <- file("/dev/fd/1", open = "w", raw = TRUE)  # real stdout, before the sink
sink(stderr())                              # R's console output goes to the log

reply <- function(value) {
  writeLines(value, reply_con)
  flush(reply_con)
}

# jsonlite writes at most 15 significant digits: plain doubles (in vectors and lists) are
# written here instead, with the fewest of 15, 16 or 17 digits that read back exactly.
exact <- function(v) {
  out <- formatC(v, digits = 15, format = "g")
  for (d in 16:17) {
    inexact <- is.finite(v) & as.numeric(out) != v
    if (!any(inexact)) break
    out[inexact] <- formatC(v[inexact], digits = d, format = "g")
  }
  out[!is.finite(v)] <- "null"
  gsub(" ", "", out)
}

doubles_exact <- function(x) {
  if (is.double(x) && is.null(attributes(x))) {
    text <- exact(x)
    return(structure(if (length(x) == 1) text else paste0("[", paste(text, collapse = ","),
                                                          "]"), class = "json"))
  }
  if (is.list(x) && !is.data.frame(x)) {
    nm <- names(x)
    x <- lapply(x, doubles_exact)
    names(x) <- nm
  }
  x
}

encode <- function(value) {
  as.character(toJSON(doubles_exact(value), auto_unbox = TRUE, digits = NA, na = "null",
                      json_verbatim = TRUE,
                      null = "null", dataframe = "rows", matrix = "rowmajor",
                      factor = "string", Date = "ISO8601", POSIXt = "ISO8601",
                      UTC = TRUE, force = TRUE))
}

nulls_to_na <- function(x) {
  if (is.null(x)) return(NA)
  if (is.list(x)) {
    nm <- names(x)
    x <- lapply(x, nulls_to_na)
    names(x) <- nm
  }
  x
}

loaded <- tryCatch({
  source(script, local = globalenv())
  fn <- get(fname, envir = globalenv(), mode = "function", inherits = FALSE)
  TRUE
}, error = function(e) conditionMessage(e))

if (!isTRUE(loaded)) {
  reply(encode(list(ready = FALSE, error = loaded)))
  quit(save = "no", status = 3)
}

formals_info <- lapply(names(formals(fn)), function(n) {
  info <- list(name = n, has_default = !identical(formals(fn)[[n]], quote(expr = )))
  if (info$has_default) {
    d <- formals(fn)[[n]]
    # A constant default (0.5, "a", TRUE) is reported: it types the argument for servekit.
    if ((is.numeric(d) || is.character(d) || is.logical(d)) && length(d) == 1 && !is.na(d)) {
      info$default <- d
    }
  }
  info
})
reply(encode(list(ready = TRUE, formals = formals_info)))

input <- file("stdin", open = "r")
repeat {
  line <- readLines(input, n = 1)
  if (length(line) == 0) break
  answer <- tryCatch({
    call <- fromJSON(line, simplifyVector = simplify)
    positional <- nulls_to_na(if (is.null(call$args)) list() else call$args)
    named <- nulls_to_na(if (is.null(call$kwargs)) list() else call$kwargs)
    result <- do.call(fn, c(as.list(positional), as.list(named)))
    encode(list(ok = TRUE, result = result))
  }, error = function(e) encode(list(ok = FALSE, error = conditionMessage(e))))
  reply(answer)
}
