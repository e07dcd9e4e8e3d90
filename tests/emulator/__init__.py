"""Tests of the emulator: endpoints, official-SDK client, spec conformance, properties."""
