"""Pure functions the analysers are built from: license detection, line counting, secret search
and a simulated (reproducible or not) build."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# A license is recognised when all of its phrases occur in a license file (case-insensitive).
LICENSE_FINGERPRINTS: dict[str, tuple[str, ...]] = {
    "Apache-2.0": ("apache license", "version 2.0"),
    "BSD-3-Clause": ("redistribution and use in source and binary forms", "neither the name"),
    "GPL-3.0-only": ("gnu general public license", "version 3"),
    "MIT": ("permission is hereby granted, free of charge",),
    "WTFPL": ("do what the f*ck you want to public license",),
}
LICENSE_FILE_PATTERN = re.compile(r"(^|/)(license|licence|copying)(\.[a-z]+)?$", re.IGNORECASE)

# Language by file extension, and how that language starts a line comment.
LANGUAGES: dict[str, tuple[str, str]] = {
    ".py": ("Python", "#"),
    ".js": ("JavaScript", "//"),
    ".c": ("C", "//"),
}

SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
    "AWS access key id": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bghp_[A-Za-z0-9]{36}\b"),
}


def license_files(files: dict[str, str]) -> list[str]:
    """Paths that look like license files, sorted."""
    return sorted(path for path in files if LICENSE_FILE_PATTERN.search(path))


def classify_license(text: str) -> str | None:
    """The SPDX id whose fingerprint matches the text, or None."""
    folded = " ".join(text.lower().split())
    for spdx_id, phrases in sorted(LICENSE_FINGERPRINTS.items()):
        if all(phrase in folded for phrase in phrases):
            return spdx_id
    return None


@dataclass
class LineCount:
    """Lines of one language."""

    files: int = 0
    code: int = 0
    comment: int = 0
    blank: int = 0


def count_lines(files: dict[str, str]) -> dict[str, LineCount]:
    """Code, comment and blank lines per language (block comments count as code)."""
    counts: dict[str, LineCount] = {}
    for path, text in sorted(files.items()):
        extension = path[path.rfind(".") :] if "." in path.rsplit("/", 1)[-1] else ""
        if extension not in LANGUAGES:
            continue
        language, comment_start = LANGUAGES[extension]
        count = counts.setdefault(language, LineCount())
        count.files += 1
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped:
                count.blank += 1
            elif stripped.startswith(comment_start):
                count.comment += 1
            else:
                count.code += 1
    return counts


def find_secrets(files: dict[str, str]) -> list[dict[str, str | int]]:
    """Every line that matches a secret pattern, as {path, line, kind}."""
    findings: list[dict[str, str | int]] = []
    for path, text in sorted(files.items()):
        for number, line in enumerate(text.splitlines(), start=1):
            for kind, pattern in sorted(SECRET_PATTERNS.items()):
                if pattern.search(line):
                    findings.append({"path": path, "line": number, "kind": kind})
    return findings


def build_settings(files: dict[str, str]) -> dict[str, str]:
    """`key = value` pairs of the archive's `build.cfg` (empty when it has none)."""
    settings: dict[str, str] = {}
    for line in files.get("build.cfg", "").splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            settings[key] = value
    return settings


def build_artifact(files: dict[str, str], build_id: str | None) -> bytes:
    """A simulated wheel: the sources in path order, plus the build id when the build embeds one
    (which is exactly what makes a build non-reproducible)."""
    parts = [f"{path}\n{files[path]}" for path in sorted(files)]
    if build_id is not None:
        parts.append(f"BUILD-ID: {build_id}\n")
    return "\0".join(parts).encode()


def sha256(data: bytes) -> str:
    """Hex SHA-256 of some bytes."""
    return hashlib.sha256(data).hexdigest()
