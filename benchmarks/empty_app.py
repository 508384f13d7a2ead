"""Baseline for benchmarks/synth_time.py: a default CDK app with one empty stack.

``--no-builtin-validation`` builds it without CDK's built-in CloudFormation validation plugin, as
app.py does (cfn-lint replaces it there), to show what that default plugin alone costs.
"""

import sys

import aws_cdk as cdk

app = cdk.App(builtin_cloud_formation_validation="--no-builtin-validation" not in sys.argv)
cdk.Stack(app, "Empty")
app.synth()
