"""The `wellcoach` command line: thin Typer wrappers over core calls."""
