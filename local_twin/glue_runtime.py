"""The Glue runtime a job script sees in the twin: ``awsglue.context.GlueContext`` and ``awsglue.job.Job``.

In AWS these are backed by Glue's JARs; here they are backed by the shared local Spark session. What a
script can use is what the platform's scripts use, and anything else is an error naming it:

* ``GlueContext(sc)``, ``.spark_session``/``.sparkSession``;
* ``create_dynamic_frame.from_options(connection_type="s3", format="csv", ...)`` with job bookmarks: only
  objects not read by an earlier committed run (or since modified) are returned, as Glue's S3 bookmarks
  do (https://docs.aws.amazon.com/glue/latest/dg/monitor-continuations.html); ``format_options``
  ``separator``, ``quoteChar`` (-1: no quoting), ``withHeader``, ``multiLine`` false and
  ``attachFilename``; columns are named ``col0``, ``col1`` ... as Glue's CSV reader names them;
* ``DynamicFrame.toDF()`` and ``resolveChoice(choice="cast:string")``;
* ``Job(glue_context).init(name, args)`` and ``.commit()``: the bookmark advances only on commit, and
  only if the run succeeds.

``awsglue.utils.getResolvedOptions`` is the real one (PyPI's ``awsgluedataplanepython``).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as sf
from pyspark.sql.types import StructType


class UnsupportedGlueFeatureError(NotImplementedError):
    pass


class RunHooks(Protocol):
    """What the job-run twin provides to the runtime while a script runs."""

    bookmark_option: str

    @property
    def job_name(self) -> str: ...

    def list_files(self, paths: list[str], recurse: bool) -> list[tuple[str, int]]: ...

    def bookmark(self, context: str) -> dict[str, int]: ...

    def stage_bookmark(self, context: str, files: dict[str, int]) -> None: ...

    def commit(self) -> None: ...


_CURRENT: RunHooks | None = None


def _run() -> RunHooks:
    if _CURRENT is None:
        raise RuntimeError("the twin's Glue runtime is used outside a job run")
    return _CURRENT


@dataclass
class DynamicFrame:
    frame: DataFrame

    def toDF(self) -> DataFrame:  # noqa: N802 (Glue's API)
        return self.frame

    def resolveChoice(self, specs: Any = None, choice: str = "", **_: Any) -> DynamicFrame:  # noqa: N802
        if specs is not None or choice not in ("", "cast:string", "make_cols", "project:string"):
            raise UnsupportedGlueFeatureError(
                f"resolveChoice(specs={specs!r}, choice={choice!r}) is not supported by the twin"
            )
        # Columns read as text (no schema inference) have no choice types to resolve.
        return self


@dataclass
class _DynamicFrameReader:
    context: GlueContext

    def from_options(
        self,
        connection_type: str,
        connection_options: dict[str, Any],
        format: str | None = None,
        format_options: dict[str, Any] | None = None,
        transformation_ctx: str = "",
        **kwargs: Any,
    ) -> DynamicFrame:
        if connection_type != "s3":
            raise UnsupportedGlueFeatureError(
                f"connection_type {connection_type!r} is not supported by the twin"
            )
        if format != "csv":
            raise UnsupportedGlueFeatureError(f"format {format!r} is not supported by the twin (csv only)")
        if kwargs:
            raise UnsupportedGlueFeatureError(
                f"from_options arguments {sorted(kwargs)} are not supported by the twin"
            )
        options = dict(format_options or {})
        known = {"separator", "quoteChar", "withHeader", "multiLine", "attachFilename", "escaper"}
        if set(options) - known:
            raise UnsupportedGlueFeatureError(
                f"csv format_options {sorted(set(options) - known)} are not supported by the twin"
            )
        if options.get("multiLine"):
            raise UnsupportedGlueFeatureError("multiLine csv is not supported by the twin")
        run = _run()
        files = dict(
            run.list_files(list(connection_options["paths"]), bool(connection_options.get("recurse", False)))
        )
        if transformation_ctx and run.bookmark_option != "job-bookmark-disable":
            seen = run.bookmark(transformation_ctx)
            new = {path: modified for path, modified in files.items() if seen.get(path) != modified}
            if run.bookmark_option == "job-bookmark-enable":
                run.stage_bookmark(transformation_ctx, new)
        else:
            new = files
        spark = self.context.spark_session
        if not new:
            return DynamicFrame(spark.createDataFrame([], StructType([])))
        quote = options.get("quoteChar", '"')
        reader = (
            spark.read.option("sep", options.get("separator", ","))
            .option("quote", "" if quote == -1 else str(quote))
            .option("header", str(bool(options.get("withHeader", False))).lower())
            .option("inferSchema", "false")
        )
        frame = reader.csv(sorted(new))
        frame = frame.toDF(*(f"col{i}" for i in range(len(frame.columns))))
        if options.get("attachFilename"):
            frame = frame.withColumn(str(options["attachFilename"]), sf.input_file_name())
        return DynamicFrame(frame)


class GlueContext:
    def __init__(self, spark_context: SparkContext, **options: Any) -> None:
        if options:
            raise UnsupportedGlueFeatureError(
                f"GlueContext options {sorted(options)} are not supported by the twin"
            )
        self._sc = spark_context
        self.spark_session = SparkSession.builder.getOrCreate()
        self.create_dynamic_frame = _DynamicFrameReader(self)

    @property
    def sparkSession(self) -> SparkSession:  # noqa: N802 (Glue's API)
        return self.spark_session


def _job_class() -> type:
    from awsglue.job import Job as GlueJob  # noqa: PLC0415 (the real class: its argument classmethods)

    class Job(GlueJob):  # type: ignore[misc]
        def __init__(self, glue_context: GlueContext) -> None:
            if not isinstance(glue_context, GlueContext):
                raise UnsupportedGlueFeatureError("Job() takes the twin's GlueContext")
            self._glue_context = glue_context
            self._initialized = False

        def init(self, job_name: str, args: dict[str, Any] | None = None) -> None:
            run = _run()
            if job_name != run.job_name:
                raise RuntimeError(f"Job.init({job_name!r}) in a run of {run.job_name!r}")
            self._initialized = True

        def isInitialized(self) -> bool:  # noqa: N802
            return self._initialized

        def commit(self) -> None:
            if not self._initialized:
                raise RuntimeError("Job.commit() before Job.init()")
            _run().commit()

    return Job


@contextmanager
def installed(run: RunHooks) -> Iterator[None]:
    """``awsglue.context`` and ``awsglue.job`` are the twin's while the block runs."""
    global _CURRENT  # noqa: PLW0603 (one job runs at a time, as the module-level API requires)
    import awsglue.utils  # noqa: F401, PLC0415 (bind the real Job to getResolvedOptions first)

    context_module = types.ModuleType("awsglue.context")
    context_module.GlueContext = GlueContext  # type: ignore[attr-defined]
    job_module = types.ModuleType("awsglue.job")
    job_module.Job = _job_class()  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in ("awsglue.context", "awsglue.job")}
    sys.modules["awsglue.context"] = context_module
    sys.modules["awsglue.job"] = job_module
    previous, _CURRENT = _CURRENT, run
    try:
        yield
    finally:
        _CURRENT = previous
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
