"""Fixture data the tasks consult instead of remote services: moderation lists and followers."""

from __future__ import annotations

# Uploaders whose content is quarantined until a moderator looks at it.
BANNED_UPLOADERS: frozenset[str] = frozenset({"mallory", "trudy"})

# SHA-256 digests (see `pgm.digest`) of images already known to be abusive. The first one is
# the 6x6 image of `scenarios/blocked_digest.json`.
BLOCKED_DIGESTS: frozenset[str] = frozenset(
    {
        "e88a9f27872a8d40d088d3099812e0c70af36c8e81fcce721b4cf731c28586ba",
    }
)

# Who follows whom; followers are told about each newly published image.
FOLLOWERS: dict[str, list[str]] = {
    "alice": ["bob", "carol"],
    "bob": ["alice"],
}

# Public base URL of published images.
PUBLIC_BASE_URL = "https://images.example.com"
