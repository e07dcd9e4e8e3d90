"""The batch service: each Message Batches operation, written once, as Observables."""
