"""Baseline for benchmarks/synth_time.py: an app with one empty stack and no validations."""

import aws_cdk as cdk

app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
