"""Build hook: a wheel carries the project files the package needs at run time (the sample data,
the Dockerfiles, the compose file, the lock file), copied under ``churn/_resources/``. The list
is ``churn.layout.SHIPPED_FILES``; everything else is configured in pyproject.toml."""

import runpy
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def shipped_files() -> tuple[str, ...]:
    """SHIPPED_FILES of churn/layout.py (run on its own: it imports nothing of the package)."""
    return runpy.run_path(str(ROOT / "churn" / "layout.py"))["SHIPPED_FILES"]


class BuildWithResources(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout
            return
        resources = Path(self.build_lib) / "churn" / "_resources"
        shutil.rmtree(resources, ignore_errors=True)  # a reused build folder keeps no stale file
        for relative in shipped_files():
            target = resources / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, target)


setup(cmdclass={"build_py": BuildWithResources})
