"""The releases CHANGELOG.md records, and a released tree taken out of git.

A release is found by its tag ``v<version>``; a clone without tags falls back to
the commit CHANGELOG.md names for it (``Commit: <sha>``). When neither is in the
repository the caller fails with a message that says how to get them: a test of an
old release never skips.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

CHANGELOG = REPO / "CHANGELOG.md"
_SECTION = re.compile(r"^## \[(?P<version>[^\]]+)\] - (?P<date>\S+)$", re.MULTILINE)
_COMMIT = re.compile(r"^Commit: (?P<sha>[0-9a-f]{40})$", re.MULTILINE)


@dataclass(frozen=True)
class Release:
    version: str
    date: str
    commit: str | None

    @property
    def tag(self) -> str:
        return f"v{self.version}"


def releases() -> list[Release]:
    """The dated releases of CHANGELOG.md, newest first (not ``Unreleased`` ones)."""
    text = CHANGELOG.read_text(encoding="utf-8")
    sections = list(_SECTION.finditer(text))
    found = []
    for i, section in enumerate(sections):
        end = sections[i + 1].start() if i + 1 < len(sections) else len(text)
        commit = _COMMIT.search(text, section.end(), end)
        if section["date"] != "Unreleased":
            found.append(Release(section["version"], section["date"], commit and commit["sha"]))
    return found


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, timeout=120)


def resolve(release: Release) -> str:
    """The commit of ``release``: its tag's, or the one CHANGELOG.md names."""
    tagged = _git("rev-parse", "--verify", "--quiet", f"refs/tags/{release.tag}^{{commit}}")
    if tagged.returncode == 0:
        sha = tagged.stdout.decode().strip()
        assert release.commit in (None, sha), (
            f"tag {release.tag} is {sha}, CHANGELOG.md says {release.commit}"
        )
        return sha
    if release.commit and _git("cat-file", "-e", f"{release.commit}^{{commit}}").returncode == 0:
        return release.commit
    pytest.fail(
        f"release {release.version}: neither the tag {release.tag} nor the commit "
        f"{release.commit} (CHANGELOG.md) is in this repository; fetch them "
        f"(git fetch --tags, or a clone with full history)"
    )


def export(release: Release, dest: Path) -> str:
    """Write the release's tree (``git archive``) under ``dest``; returns its commit."""
    sha = resolve(release)
    archive = _git("archive", "--format=tar", sha)
    assert archive.returncode == 0, archive.stderr.decode()
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return sha
