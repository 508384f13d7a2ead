"""Reusable CDK constructs for an AWS data platform."""
