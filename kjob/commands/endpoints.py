"""kjob endpoints: the endpoints kjob knows, and one endpoint's request and response fields."""

from __future__ import annotations

import click

from kjob.commands import complete_endpoints


@click.command()
@click.argument("pattern", required=False, shell_complete=complete_endpoints)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per line) on stdout.")
def endpoints(pattern: str | None, as_json: bool) -> None:
    """List the endpoints (PATTERN: a substring or a glob such as '/show/*'); an exact
    endpoint shows its request fields (type, default or required) and response fields.

    \b
      kjob endpoints records
      kjob endpoints /alter/table
      kjob submit /alter/table --skeleton > payload.json
    """
    from kjob.errors import BadInput
    from kjob.protocol import schemas
    from kjob.output.lines import Renderer

    render = Renderer(as_json=as_json)
    if pattern in schemas.known_endpoints():
        return render.endpoint_description(schemas.describe(pattern))
    found = schemas.match_endpoints(pattern or "")
    if not found:
        close = schemas.closest_endpoint(pattern or "")
        hint = f"did you mean {close}?" if close else "`kjob endpoints` lists them all"
        raise BadInput(f"no endpoint matches {pattern!r} ({hint})")
    render.endpoint_list(found)
