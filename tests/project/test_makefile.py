"""The Makefile's setup steps explain themselves on a machine that cannot run them: a
Python older than 3.11, or no root to install Chromium for the browser tests.

Each test runs one real Makefile rule with stand-in programs on PATH, so nothing is
installed and no venv is built."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make") or "make"  # the README's commands need make: never skipped


def _program(path: Path, script: str) -> Path:
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def _make(*args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [MAKE, "--no-print-directory", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_it_refuses_to_create_the_venv_with_a_python_older_than_3_11(tmp_path):
    old_python = _program(
        tmp_path / "python3.9",
        'if [ "$1" = -V ]; then echo "Python 3.9.18"; exit 0; fi\n'
        f'if [ "$1" = -c ]; then exec {sys.executable} -c "import sys; sys.exit(True)"; fi\n'
        f"touch {tmp_path}/venv-was-attempted\n",
    )
    venv = tmp_path / "venv"
    result = _make(f"PYTHON={old_python}", f"VENV={venv}", f"{venv}/.installed")
    assert result.returncode != 0
    assert "needs Python 3.11 or newer" in result.stderr
    assert "Python 3.9.18" in result.stderr
    assert not (tmp_path / "venv-was-attempted").exists()
    assert not venv.exists()


def test_it_creates_the_venv_with_python_3_11_or_newer(tmp_path):
    # The version check runs the real interpreter (3.11+); "-m venv" and pip are stand-ins.
    venv = tmp_path / "venv"
    fake_venv_python = "#!/bin/sh\\nexit 0\\n"
    python = _program(
        tmp_path / "python3",
        f'if [ "$1" = -c ]; then exec {sys.executable} "$@"; fi\n'
        'if [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3/bin"; '
        f'printf "{fake_venv_python}" > "$3/bin/python"; chmod +x "$3/bin/python"; exit 0; fi\n'
        "exit 1\n",
    )
    result = _make(f"PYTHON={python}", f"VENV={venv}", f"{venv}/.installed")
    assert result.returncode == 0, result.stderr
    assert (venv / ".installed").exists()


def _not_root(bin_dir: Path) -> None:
    _program(bin_dir / "id", 'if [ "$1" = -u ]; then echo 1000; else echo "uid=1000(dev)"; fi\n')


def test_it_names_the_chromium_package_when_it_cannot_become_root(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _not_root(bin_dir)  # and no sudo on PATH
    chromium = tmp_path / "chromium"
    result = _make(f"CHROMIUM={chromium}", str(chromium), path=str(bin_dir))
    assert result.returncode != 0
    assert "'chromium' package" in result.stderr
    assert "as root" in result.stderr


def test_it_installs_chromium_through_sudo_when_not_root(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _not_root(bin_dir)
    calls = tmp_path / "sudo-calls"
    _program(bin_dir / "sudo", f'echo "$*" >> {calls}\n')
    chromium = tmp_path / "chromium"
    result = _make(f"CHROMIUM={chromium}", str(chromium), path=str(bin_dir))
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        "apt-get update -qq",
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
    ]
