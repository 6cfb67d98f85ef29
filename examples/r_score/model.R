# An R model for servekit: servekit serve examples/r_score/model.R:predict
#
#   curl -s localhost:8080/model -H 'Content-Type: application/json' \
#        -d '{"data": {"tenure_months": 3, "monthly_spend": 80.5}}'

weights <- c(tenure = -0.075, spend = 0.006)  # read once, when servekit sources the file

predict <- function(tenure_months, monthly_spend, threshold = 0.5) {
  score <- 0.2 + weights[["tenure"]] * tenure_months + weights[["spend"]] * monthly_spend
  probability <- 1 / (1 + exp(-score))
  message("scored a customer")  # goes to the server's log, not the response
  list(churn_probability = round(probability, 4), will_churn = probability >= threshold)
}
