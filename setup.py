"""Ships the labs with the package: everything else is declared in pyproject.toml.

The labs stay where authors keep them, in `labs/` at the top of the repository, and
`kind-config.yaml` beside it; a wheel carries copies of both inside the package, under
`labrunner/shipped/`, where `labrunner.labfolders` looks when it runs from no checkout.
setuptools has no declarative way to map a folder outside the package into it (package-data
only takes files already inside a package), so the copy is made by `build_py`, the step that
fills the wheel's package tree. The sdist carries `labs/` and `kind-config.yaml` (MANIFEST.in),
so a wheel built from the sdist holds them too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("labs", "kind-config.yaml")  # the same names as labrunner.labfolders.SHIPPED_* expects
_SKIPPED = shutil.ignore_patterns(".*", "__pycache__", "*.pyc")


class BuildWithLabs(build_py):
    """build_py, then the shipped labs and kind config copied into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install runs from the checkout, which finds labs/ itself
            return
        target = Path(self.build_lib) / "labrunner" / "shipped"
        for name in SHIPPED:
            source = HERE / name
            if not source.exists():
                raise SystemExit(f"{source} is missing: the package cannot ship the labs without it")
            self.mkpath(str(target))
            if source.is_dir():
                shutil.rmtree(target / name, ignore_errors=True)  # a lab removed since the last build goes too
                shutil.copytree(source, target / name, ignore=_SKIPPED)
            else:
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithLabs})
