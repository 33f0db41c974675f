"""One module per command-line verb (see core.cli)."""
