"""Jobs beyond one batch: input, splitting, lifecycle, events, and the durable job store."""
