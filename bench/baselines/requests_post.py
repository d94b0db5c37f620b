"""Baseline: a lazy click program that imports requests and posts one /get/job (by tag)."""

import sys

import click


@click.group()
def cli():
    """A lazy click program."""


@cli.command()
@click.argument("ref")
@click.option("--url")
def status(ref, url):
    """Look at a job."""
    import requests

    tag = ref.encode()
    body = b"\x01" + b"\x02" + b"\x0ejob_tag" + bytes([len(tag) * 2]) + tag + b"\x00"  # job_id -1, options {job_tag}
    answer = requests.post(url + "/get/job", data=body, headers={"Content-Type": "application/octet-stream"})
    sys.stdout.write(f"{answer.status_code} {len(answer.content)}\n")


cli()
