"""kjob endpoints: the endpoints kjob knows, and one endpoint's request and response fields."""

from __future__ import annotations

import click

from kjob.cli.options import complete_endpoints


@click.command()
@click.argument("pattern", required=False, shell_complete=complete_endpoints)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per line) on stdout.")
def endpoints(pattern: str | None, as_json: bool) -> None:
    """List Kinetica's endpoints, or show one endpoint's request and response fields.

    PATTERN: a substring or a glob such as '/show/*'; an exact endpoint shows its request
    fields (type, default or required) and response fields.

    \b
      kjob endpoints records
      kjob endpoints /alter/table
      kjob submit /alter/table --skeleton > payload.json
    """
    from kjob.ops.endpoints import endpoints as look_up
    from kjob.output.lines import Renderer

    render = Renderer(as_json=as_json)
    found = look_up(pattern)
    if isinstance(found, dict):
        return render.endpoint_description(found)
    render.endpoint_list(found)
