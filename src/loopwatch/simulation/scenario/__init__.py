"""The built-in closed-loop scenario: Adult applicants day by day, a lending policy whose
decisions choose which outcomes are ever seen, monitoring, retraining and a gated promotion."""
