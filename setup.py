"""Maps the design's top-level folders onto one import namespace.

The repository's top level follows the pipeline (ingest/, processors/, schemas/), but installing
packages called `ingest` or `processors` would squat generic names in site-packages. So each folder
is installed as a subpackage of `tagtrail`; pyproject.toml holds everything else.

Folders of data files (schemas/avro, schemas/clickhouse, ingest/scans/web) are listed as packages
too (namespace discovery), so setuptools ships their files as package data instead of warning that
an importable folder would be ignored.
"""

from setuptools import find_namespace_packages, setup

ROOTS = {
    "tagtrail": "tagtrail",
    "tagtrail.ingest": "ingest",
    "tagtrail.processors": "processors",
    "tagtrail.schemas": "schemas",
}

packages = []
for name, folder in ROOTS.items():
    packages.append(name)
    subs = find_namespace_packages(folder, exclude=["__pycache__", "*.__pycache__"])
    packages += [f"{name}.{sub}" for sub in subs if not sub.startswith("tagtrail")]

setup(packages=packages, package_dir=ROOTS)
