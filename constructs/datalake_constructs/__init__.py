"""Reusable CDK constructs for an AWS data platform.

Two ways in: copy one module file into your app (each depends only on aws-cdk-lib, ``constructs`` and
the standard library), or depend on the ``datalake-constructs`` distribution and import
``datalake_constructs.<module>``. The version follows semantic versioning (CHANGELOG.md next to the
package's pyproject.toml): a construct's props, attributes or synthesized resources changing
incompatibly is a major version.
"""

__version__ = "0.2.0"
