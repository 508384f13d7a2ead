"""Deployable stacks: thin compositions of the constructs in ``datalake_constructs``."""
