"""The ``churn`` command line."""

from __future__ import annotations

import json
import sys

import click

from churn import __version__


def _parameter_overrides(pairs: tuple[str, ...]) -> dict:
    from churn.parameters import ParameterError, parse_overrides

    try:
        return parse_overrides(pairs)
    except ParameterError as error:
        raise click.BadParameter(str(error), param_hint="--param") from None


@click.group()
@click.version_option(__version__, prog_name="churn")
def main() -> None:
    """churn: a local-first customer-churn pipeline on SageMaker Pipelines."""


@main.command()
@click.option("--backend", type=click.Choice(["local", "cloud"]), default="local", show_default=True)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Override a parameter's default (repeatable).")
@click.option("--runs-dir", default=None, help="local: the runs folder [default: $CHURN_RUNS_DIR or ./runs].")
@click.option("--aws-images", is_flag=True, help="local: use the official AWS images instead of the project's.")
@click.option("--region", default=None, help="cloud: AWS region [env CHURN_AWS_REGION].")
@click.option("--role-arn", default=None, help="cloud: SageMaker execution role [env CHURN_ROLE_ARN].")
@click.option("--bucket", default=None, help="cloud: S3 bucket [env CHURN_S3_BUCKET].")
@click.option("--prefix", default=None, help="cloud: S3 key prefix [env CHURN_S3_PREFIX, default churn].")
def definition(backend, params, runs_dir, aws_images, region, role_arn, bucket, prefix) -> None:
    """Print the pipeline definition JSON. Needs no AWS account and no network."""
    from churn.definition import compile_definition

    overrides = _parameter_overrides(params)
    if backend == "local":
        settings = {"runs_dir": runs_dir, "aws_images_": aws_images}
    else:
        settings = {"region": region, "role_arn": role_arn, "bucket": bucket, "prefix": prefix}
        from churn.backends.cloud import cloud_backend

        missing = cloud_backend(**settings).placeholders
        if missing:
            click.echo(f"note: placeholders stand in for unset cloud settings: {'; '.join(missing)}", err=True)
    document = compile_definition(backend, overrides, **settings)
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
