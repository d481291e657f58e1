"""Each top-level code folder is a source root holding one package named as it is imported.

The repository's top level follows the pipeline (ingest/, processors/, schemas/, cli/ beside the core
tagtrail/). Inside each sits one package with a distinct name (ingest/tagtrail_ingest/, ...), so an
import names a folder at that path with no remapping: import sorters, type checkers and readers
resolve it as they find it, and no generic name (`ingest`, `processors`) lands in site-packages.

Folders of data files (tagtrail_schemas/avro, tagtrail_schemas/clickhouse, tagtrail_ingest/scans/web)
are found as namespace packages, so setuptools ships their files as package data (pyproject.toml lists
them) instead of warning that an importable folder would be ignored.
"""

from setuptools import find_namespace_packages, setup

SOURCE_ROOTS = {  # package -> the folder that holds it; the package folder is <root>/<package>
    "tagtrail": ".",
    "tagtrail_ingest": "ingest",
    "tagtrail_processors": "processors",
    "tagtrail_schemas": "schemas",
    "tagtrail_cli": "cli",
}

packages = []
for name, root in SOURCE_ROOTS.items():
    packages += find_namespace_packages(root, include=[name, f"{name}.*"], exclude=["*.__pycache__"])

setup(packages=packages, package_dir={name: f"{root}/{name}" for name, root in SOURCE_ROOTS.items() if root != "."})
