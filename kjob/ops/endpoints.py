"""kjob endpoints: the endpoints kjob knows, and one endpoint's request and response fields."""

from __future__ import annotations

from kjob.errors import BadInput
from kjob.protocol import schemas


def endpoints(pattern: str | None) -> dict | list[str]:
    """An exact endpoint's description (a dict), else the endpoints PATTERN matches (a list)."""
    if pattern in schemas.known_endpoints():
        return schemas.describe(pattern)
    found = schemas.match_endpoints(pattern or "")
    if not found:
        close = schemas.closest_endpoint(pattern or "")
        hint = f"did you mean {close}?" if close else "`kjob endpoints` lists them all"
        raise BadInput(f"no endpoint matches {pattern!r} ({hint})")
    return found
