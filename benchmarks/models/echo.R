# R echo for the benchmark: returns its argument (R harness overhead).
predict <- function(payload) payload
