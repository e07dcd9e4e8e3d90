"""Tests of rxbatches.operators, on virtual time (reactivex.testing)."""
