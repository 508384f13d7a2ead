#!/usr/bin/env python3
"""CDK entry point: ``npx cdk synth [-c env=prod]`` (default environment: dev).

The app holds the selected environment's stacks and, where ``datalake.delivery`` configures them, the
GitHub OIDC stack of that environment's account and the CDK Pipelines stack (README, "Deploy").
"""

import aws_cdk as cdk

from stacks.delivery import build_delivery
from stacks.platform import APP_OPTIONS, build_platform

app = cdk.App(**APP_OPTIONS)
platform = build_platform(app)
build_delivery(app, platform.config.env_name)
app.synth()
