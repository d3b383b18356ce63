"""Build hook: a wheel carries the project files the package needs at run time (the sample data,
the Dockerfiles, the compose file, the lock file), copied under ``churn/_resources/``. The list
is ``churn.layout.SHIPPED_FILES``; everything else is configured in pyproject.toml."""

import ast
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def shipped_files() -> tuple[str, ...]:
    """SHIPPED_FILES read from churn/layout.py without importing the package."""
    tree = ast.parse((ROOT / "churn" / "layout.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SHIPPED_FILES" for t in node.targets):
            return ast.literal_eval(node.value)
    raise RuntimeError("churn/layout.py declares no SHIPPED_FILES")


class BuildWithResources(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout
            return
        for relative in shipped_files():
            target = Path(self.build_lib) / "churn" / "_resources" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, target)


setup(cmdclass={"build_py": BuildWithResources})
