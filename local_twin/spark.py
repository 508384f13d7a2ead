"""The one local Spark session the twin (and the test suite) runs Glue scripts in.

Glue 5.0 runs Spark 3.5 on Python 3.11, as the project's pinned ``pyspark`` does. ``s3://`` URLs are
served by ``TwinS3FileSystem`` (``local_twin/hadoop``): a Hadoop file system over the twin's folders
that records the S3 request behind each operation, which the twin then checks against the IAM policies
of the role the job runs as. The class is compiled with the machine's ``javac`` against PySpark's own
Hadoop jars the first time it is needed (about a second) and kept under ``.tools/twin``.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

ROOT = Path(__file__).resolve().parent.parent
JAVA_SOURCES = Path(__file__).resolve().parent / "hadoop"
CLASSES = ROOT / ".tools" / "twin" / "classes"
FILE_SYSTEM_CLASS = "localtwin.TwinS3FileSystem"
_LOCK = threading.Lock()


def _pyspark_jars() -> Path:
    import pyspark  # noqa: PLC0415

    return Path(pyspark.__file__).resolve().parent / "jars"


def compiled_classes() -> Path:
    """The folder holding the compiled file system, compiled now if missing or older than its source."""
    sources = sorted(JAVA_SOURCES.glob("*.java"))
    target = CLASSES / "localtwin" / "TwinS3FileSystem.class"
    newest = max(source.stat().st_mtime for source in sources)
    if target.is_file() and target.stat().st_mtime >= newest:
        return CLASSES
    CLASSES.mkdir(parents=True, exist_ok=True)
    classpath = os.pathsep.join(str(jar) for jar in sorted(_pyspark_jars().glob("hadoop-client-*.jar")))
    command = [
        "javac",
        "--release",
        "17",
        "-nowarn",
        "-cp",
        classpath,
        "-d",
        str(CLASSES),
        *map(str, sources),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"compiling the twin's S3 file system failed:\n{result.stderr}")
    return CLASSES


def session(*, app_name: str = "local-twin", memory: str = "2g") -> SparkSession:
    """The running session if there is one (it must have been built here), else a new one."""
    with _LOCK:
        running = SparkSession.getActiveSession()
        if running is not None:
            return running
        classes = compiled_classes()
        spark = (
            SparkSession.builder.master("local[2]")
            .appName(app_name)
            .config("spark.driver.extraClassPath", str(classes))
            .config("spark.hadoop.fs.s3.impl", FILE_SYSTEM_CLASS)
            # A new instance per lookup: the twin's root folder changes between runs (and tests).
            .config("spark.hadoop.fs.s3.impl.disable.cache", "true")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.default.parallelism", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", memory)
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        return spark


def jvm(spark: SparkSession) -> Any:
    """The session's JVM view (py4j) and its Hadoop configuration."""
    context: Any = spark.sparkContext
    return context._jvm, context._jsc.hadoopConfiguration()


def set_s3_root(spark: SparkSession, root: Path) -> None:
    """Where ``s3://<bucket>/<key>`` lives from now on: ``<root>/<bucket>/<key>``."""
    _, configuration = jvm(spark)
    configuration.set("fs.s3.twin.root", str(root))


def drain_audit(spark: SparkSession) -> list[tuple[str, str, str]]:
    """The S3 requests the file system recorded since the last drain: (operation, bucket, key)."""
    view, _ = jvm(spark)
    requests = []
    for line in view.localtwin.TwinS3FileSystem.drainAudit():
        operation, bucket, key = str(line).split("\t", 2)
        requests.append((operation, bucket, key))
    return requests
