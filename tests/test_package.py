"""The package as a user gets it: the wheel's contents and every docstring example."""

import doctest
import importlib
import pkgutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gymkit

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ["common", "envs", "wrappers", "agents", "integrations"]
SUBPACKAGES = ["gymkit", *(f"gymkit.{folder}" for folder in FOLDERS)]


def _modules():
    names = ["gymkit"]
    for sub in SUBPACKAGES[1:]:
        pkg = importlib.import_module(sub)
        names.append(sub)
        names += [
            f"{sub}.{m.name}"
            for m in pkgutil.iter_modules(pkg.__path__)
            if f"{sub}.{m.name}" != "gymkit.integrations.rllib"  # ray venv: test_rllib.py
        ]
    return names


@pytest.mark.slow
def test_wheel_contains_every_subpackage(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("gymkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for sub in SUBPACKAGES:
        assert f"{sub.replace('.', '/')}/__init__.py" in names, sub
    # every module in the source folders made it into the wheel
    for folder in FOLDERS:
        for source in (ROOT / folder).glob("*.py"):
            assert f"gymkit/{folder}/{source.name}" in names, source
    assert "gymkit/py.typed" in names
    # the compiled INTER_AREA kernel (optional at install, but built wherever a compiler is)
    assert any(n.startswith("gymkit/wrappers/_area.") for n in names if n.endswith((".so", ".pyd")))


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"


def test_version_is_exposed():
    assert gymkit.__version__.count(".") == 2


def test_readme_ten_line_example_runs_and_prints_what_it_says():
    text = (ROOT / "README.md").read_text()
    block = text.split("## Ten lines", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    out = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == ["0 [ True  True  True]", "(4, 84, 84) 5"]


def test_readme_agents_example_prints_the_optimal_policy():
    text = (ROOT / "README.md").read_text()
    block = text.split("## Agents", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    out = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1] == "[0, 0, 1]"


def test_every_code_folder_is_linked_from_the_package():
    for folder in FOLDERS:
        link = ROOT / "gymkit" / folder
        assert link.is_symlink() and link.resolve() == (ROOT / folder).resolve(), folder


@pytest.mark.parametrize("folder", FOLDERS)
def test_a_folder_refuses_to_load_under_a_wrong_name(folder):
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import {folder}"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert f"this folder is the package gymkit.{folder}, imported here as '{folder}'" in out.stderr


def test_an_uninstalled_checkout_says_how_to_install():
    # -S: no site-packages, so neither the install nor gymkit's dependencies are there
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import gymkit"
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert "install the checkout first, from its root: pip install" in out.stderr


@pytest.mark.slow
def test_a_type_checker_resolves_every_gymkit_import():
    """mypy, reading the tree as it is (no import hook), finds every gymkit.* module."""
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "-p", "gymkit", "--ignore-missing-imports",
         "--no-incremental", "--cache-dir", "/dev/null"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert "Success" in out.stdout or "error" in out.stdout, out.stderr  # it ran
    unresolved = [
        line
        for line in out.stdout.splitlines()
        if 'module named "gymkit' in line or 'Module "gymkit' in line
    ]
    assert not unresolved, "\n".join(unresolved)


# Which gymkit packages each layer may import: data flows one way, up this list.
ALLOWED_IMPORTS = {
    "common": set(),
    "envs": {"common"},
    "wrappers": {"common", "envs"},
    "agents": {"common", "envs", "wrappers"},
    "integrations": {"common", "envs", "wrappers", "agents"},
}


@pytest.mark.parametrize("folder", FOLDERS)
def test_imports_flow_one_way_between_layers(folder):
    import ast

    for source in (ROOT / folder).glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "gymkit" and len(parts) > 1 and parts[1] != folder:
                    assert parts[1] in ALLOWED_IMPORTS[folder], f"{source.name} imports {name}"
