"""Maps the design's top-level folders onto one import namespace.

The repository's top level follows the pipeline (ingest/, processors/, schemas/), but installing
packages called `ingest` or `processors` would squat generic names in site-packages. So each folder
is installed as a subpackage of `tagtrail`; pyproject.toml holds everything else.
"""

from setuptools import find_packages, setup

ROOTS = {
    "tagtrail": "tagtrail",
    "tagtrail.ingest": "ingest",
    "tagtrail.processors": "processors",
    "tagtrail.schemas": "schemas",
}

packages = []
for name, folder in ROOTS.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder) if not sub.startswith("tagtrail")]

setup(packages=packages, package_dir=ROOTS)
