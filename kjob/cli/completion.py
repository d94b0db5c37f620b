"""kjob completion: the shell completion script for bash, zsh or fish."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    """The script that makes SHELL complete kjob's commands, options and REFs (click's own)."""
    from click.shell_completion import get_completion_class

    from kjob.cli import cli

    return get_completion_class(shell)(cli, {}, "kjob", "_KJOB_COMPLETE").source()


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the shell completion script for bash, zsh or fish.

    \b
      bash: kjob completion bash > ~/.local/share/bash-completion/completions/kjob
      zsh:  kjob completion zsh > "${fpath[1]}/_kjob"
      fish: kjob completion fish > ~/.config/fish/completions/kjob.fish
    """
    click.echo(completion_script(shell), nl=False)
