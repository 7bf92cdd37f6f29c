"""Tasks of the package analysis: fetch metadata, download the archive, run the analysers (license,
code, reproducibility) and aggregate their findings into one report."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pkganalysis import inspectors, registry
from selinonc.runtime import FatalTaskError, SelinonTask

DEFAULT_REBUILDS = 2
MAX_REBUILDS = 5


class ChecksumMismatchError(Exception):
    """The downloaded archive does not match the registry's checksum (retried: mirrors catch up)."""


class FetchMetadata(SelinonTask):
    """Look the release up in the registry."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        for key in ("ecosystem", "name", "version"):
            if not isinstance(node_args.get(key), str):
                raise FatalTaskError(f"node_args[{key!r}] must be a string")
        release = registry.lookup(node_args["ecosystem"], node_args["name"], node_args["version"])
        if release is None:
            raise FatalTaskError(f"{registry.package_label(node_args)} is not in the registry")
        return {"package": registry.package_label(node_args), **release}


class DownloadArchive(SelinonTask):
    """Download the release archive from the mirror and verify its checksum."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        archive = self.parent_task_result("FetchMetadata")["archive"]
        try:
            files = registry.fetch_archive(archive["filename"])
        except registry.ArchiveNotMirrored as exc:
            raise FatalTaskError(f"the mirror has no {archive['filename']}") from exc
        digest = registry.archive_digest(files)
        if digest != archive["sha256"]:
            raise ChecksumMismatchError(
                f"{archive['filename']}: expected sha256 {archive['sha256']}, got {digest}"
            )
        return {
            "filename": archive["filename"],
            "sha256": digest,
            "size": sum(len(text.encode()) for text in files.values()),
            "files": files,
        }


class RecordSkippedPackage(SelinonTask):
    """Note why a release is not analysed: it was yanked, or it has no archive at all."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        metadata = self.parent_task_result("FetchMetadata")
        reason = "the release was yanked" if metadata.get("yanked") else "no archive is published"
        return {"package": metadata["package"], "analysed": False, "reason": reason}


class DetectLicenseFiles(SelinonTask):
    """Find the license files of the archive (`license_analysis`; the archive comes from the
    parent flow through `propagate_parent`)."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        files = self.parent_task_result("DownloadArchive")["files"]
        paths = inspectors.license_files(files)
        return {"license_files": paths, "texts": {path: files[path] for path in paths}}


class ClassifyLicense(SelinonTask):
    """Recognise the license of each license file."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        texts = self.parent_task_result("DetectLicenseFiles")["texts"]
        detected = {path: inspectors.classify_license(text) for path, text in sorted(texts.items())}
        known = sorted({spdx for spdx in detected.values() if spdx is not None})
        return {
            "files": detected,
            "spdx_id": known[0] if len(known) == 1 else None,
            "ambiguous": len(known) > 1,
        }


class FlagMissingLicense(SelinonTask):
    """Record that the archive ships no license file."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        return {"spdx_id": None, "problem": "the archive contains no license file"}


class CountLinesOfCode(SelinonTask):
    """Lines of code, comments and blanks per language."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        files = self.parent_task_result("DownloadArchive")["files"]
        counts = inspectors.count_lines(files)
        return {
            "languages": {language: asdict(count) for language, count in sorted(counts.items())},
            "total_code": sum(count.code for count in counts.values()),
        }


class ScanForSecrets(SelinonTask):
    """Fail when the archive leaks credentials. This is an eager failure of `code_analysis`: the
    flow fails at once, without waiting for the line count."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        files = self.parent_task_result("DownloadArchive")["files"]
        findings = inspectors.find_secrets(files)
        if findings:
            where = ", ".join(f"{f['path']}:{f['line']} ({f['kind']})" for f in findings)
            raise FatalTaskError(f"the archive leaks secrets: {where}")
        return {"scanned_files": len(files), "findings": []}


class PlanRebuilds(SelinonTask):
    """Prepare the independent rebuilds of the reproducibility check."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        files = self.parent_task_result("DownloadArchive")["files"]
        rebuilds = node_args.get("rebuilds", DEFAULT_REBUILDS)
        if not isinstance(rebuilds, int) or not 2 <= rebuilds <= MAX_REBUILDS:
            raise FatalTaskError(f"rebuilds must be an integer in 2..{MAX_REBUILDS}")
        settings = inspectors.build_settings(files)
        return {
            "rebuilds": rebuilds,
            "embed_build_id": settings.get("embed_build_id", "false") == "true",
            "sources": {path: text for path, text in files.items() if path != "build.cfg"},
        }


class RebuildArchive(SelinonTask):
    """One independent build. Every instance gets the same inputs (foreach without
    `propagate_result`); a reproducible package yields the same artifact every time."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        plan = self.parent_task_result("PlanRebuilds")
        build_id = self.task_id if plan["embed_build_id"] else None
        artifact = inspectors.build_artifact(plan["sources"], build_id)
        return {"artifact_sha256": inspectors.sha256(artifact), "size": len(artifact)}


class AggregateReport(SelinonTask):
    """Merge the analysers' results into the package report (stored as `package_report`).

    The sub-flows' tasks reach this task through `propagate_finished` (license and code
    analysis) and `propagate_compound_finished` (reproducibility check).
    """

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        metadata = self.parent_task_result("FetchMetadata")
        license_report = self._license(metadata["license"])
        code = self.parent_flow_result("code_analysis", "CountLinesOfCode")
        digests = sorted(
            {
                self.parent_flow_result("reproducibility_check", "RebuildArchive", index)[
                    "artifact_sha256"
                ]
                for index in range(len(self.parent["reproducibility_check"]["RebuildArchive"]))
            }
        )
        problems = list(license_report["problems"])
        if len(digests) != 1:
            problems.append(f"the build is not reproducible ({len(digests)} different artifacts)")
        return {
            "package": metadata["package"],
            "summary": metadata["summary"],
            "dependencies": len(metadata["dependencies"]),
            "license": license_report["spdx_id"],
            "lines_of_code": code["total_code"],
            "languages": sorted(code["languages"]),
            "reproducible": len(digests) == 1,
            "problems": problems,
            "verdict": "needs-attention" if problems else "ok",
        }

    def _license(self, declared: str) -> dict[str, Any]:
        found = self.parent["license_analysis"]
        if "ClassifyLicense" not in found:
            return {"spdx_id": None, "problems": ["the archive contains no license file"]}
        detected = self.parent_flow_result("license_analysis", "ClassifyLicense")["spdx_id"]
        if detected != declared:
            mismatch = f"the metadata declares {declared} but the license file says {detected}"
            return {"spdx_id": detected, "problems": [mismatch]}
        return {"spdx_id": detected, "problems": []}


class PublishReport(SelinonTask):
    """Render the report as Markdown for the package's web page.

    It reads the stored report straight from its (read-only) storage, under the report's
    `storage_task_name`; its own result, the Markdown, is not stored.
    """

    def run(self, node_args: dict[str, Any]) -> str:
        report = self.storage.retrieve(
            self.flow_name, "package_report", self.parent["AggregateReport"]
        )
        lines = [
            f"# {report['package']}",
            "",
            report["summary"],
            "",
            f"* verdict: **{report['verdict']}**",
            f"* license: {report['license'] or 'unknown'}",
            f"* lines of code: {report['lines_of_code']} ({', '.join(report['languages'])})",
            f"* reproducible build: {'yes' if report['reproducible'] else 'no'}",
        ]
        lines.extend(f"* problem: {problem}" for problem in report["problems"])
        return "\n".join(lines) + "\n"


class QuarantinePackage(SelinonTask):
    """Fallback when `code_analysis` fails (in practice: leaked secrets). The release is hidden
    from installers until a maintainer publishes a fixed one."""

    def run(self, node_args: dict[str, Any]) -> dict[str, Any]:
        return {
            "package": registry.package_label(node_args),
            "action": "quarantined",
            "reason": "code analysis failed",
        }
