"""Tests of the reactive client (rxbatches.Client), against the emulator over real sockets."""
