"""Maps the repository's folders onto import names.

`shipper/` installs as `packetshipper`, `modules/` as `packetshipper.modules` and `fields/` as
`packetshipper.fields`, so that no generic top-level name such as `modules` lands in site-packages.
"""

from setuptools import find_packages, setup

ROOTS = {"packetshipper": "shipper", "packetshipper.modules": "modules", "packetshipper.fields": "fields"}


def _packages() -> list[str]:
    names = []
    for package, folder in ROOTS.items():
        names.append(package)
        names.extend(f"{package}.{sub}" for sub in find_packages(folder))
    return names


setup(
    package_dir=ROOTS,
    packages=_packages(),
    package_data={"packetshipper.fields": ["*.yml", "*.json"], "packetshipper.modules": ["*/*.yml", "*.yml"],
                  "packetshipper": ["data/*"]},
    include_package_data=True,
)
