"""Serving: HTTP app factory, predictor, decision policy, prediction log, feedback intake."""
