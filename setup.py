"""Maps the repository's folders onto import names, and builds the compiled hot path.

`shipper/` installs as `packetshipper`, `modules/` as `packetshipper.modules` and `fields/` as
`packetshipper.fields`, so that no generic top-level name such as `modules` lands in site-packages.

`packetshipper._hotpath` is compiled from `shipper/_hotpath.pyx` with Cython (a build requirement in
pyproject.toml). Without a C compiler or the Python headers the build of that one extension fails with a
warning and the install goes on: packetshipper then runs its pure-Python path (see shipper/hotpath.py).
"""

import sys

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOTS = {"packetshipper": "shipper", "packetshipper.modules": "modules", "packetshipper.fields": "fields"}


def _packages() -> list[str]:
    names = []
    for package, folder in ROOTS.items():
        names.append(package)
        names.extend(f"{package}.{sub}" for sub in find_packages(folder))
    return names


class OptionalBuildExt(build_ext):
    """Builds the extensions it can; one that fails leaves the pure-Python path, with a warning."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # a compiler missing altogether fails here
            _skipped(error)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:
            _skipped(error)


def _skipped(error: Exception) -> None:
    print(f"warning: packetshipper's compiled hot path was not built ({error}); the pure-Python path will run",
          file=sys.stderr)


def _extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("warning: Cython is missing: packetshipper's compiled hot path is not built", file=sys.stderr)
        return []
    extension = Extension("packetshipper._hotpath", ["shipper/_hotpath.pyx"], extra_compile_args=["-O2"])
    try:
        return cythonize([extension], language_level=3, quiet=True)
    except Exception as error:
        _skipped(error)
        return []


setup(
    package_dir=ROOTS,
    packages=_packages(),
    package_data={"packetshipper.fields": ["*.yml", "*.json"], "packetshipper.modules": ["*/*.yml", "*.yml"],
                  "packetshipper": ["data/*"]},
    include_package_data=True,
    exclude_package_data={"packetshipper": ["_hotpath.c", "*.pyx", "*.pxi"]},  # sources of the built extension
    ext_modules=_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)
