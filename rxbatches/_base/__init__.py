"""The base every layer builds on; imports nothing of rxbatches outside this package.

Wire models, errors, options, create checks, JSONL decoding, request bodies, the clock
and the worker-thread helper.
"""
