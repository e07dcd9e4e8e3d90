"""The reactive runtime: event loops, the Observable bridge, handoffs with backpressure."""
