#!/usr/bin/env python3
"""CDK entry point: ``npx cdk synth [-c env=prod]`` (default environment: dev)."""

import aws_cdk as cdk

from stacks.platform import APP_OPTIONS, build_platform

app = cdk.App(**APP_OPTIONS)
build_platform(app)
app.synth()
