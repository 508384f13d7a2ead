"""For benchmarks/synth_time.py: the whole app as app.py builds it, but with CDK's built-in
CloudFormation validation plugin left on (CDK's default), to compare like for like with the default
empty app."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aws_cdk as cdk

from stacks.platform import build_platform

app = cdk.App()  # no APP_OPTIONS: the built-in validation stays on
build_platform(app)
app.synth()
