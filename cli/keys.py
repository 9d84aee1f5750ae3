"""`wellcoach keys`: master key rotation."""

from __future__ import annotations

import typer

from cli.common import console, handle_errors
from wellcoach.crypto.envelope import encode_key, generate_key
from wellcoach.platform import Platform, run_with_platform

app = typer.Typer(help="Encryption keys.", no_args_is_help=True)


@app.command("generate-master")
def generate_master() -> None:
    """Print a new random master key (set it as WELLCOACH_MASTER_KEY)."""
    console.print(encode_key(generate_key()), soft_wrap=True)


@app.command("rotate-master")
@handle_errors
def rotate_master() -> None:
    """Re-wrap every user's data key with the current master key.

    Set the new key as WELLCOACH_MASTER_KEY and the old one in
    WELLCOACH_PREVIOUS_MASTER_KEYS first; data itself is not re-encrypted.
    """

    async def work(platform: Platform) -> int:
        async with platform.unit_of_work() as session:
            return await platform.vault.rotate_master_key(session)

    count = run_with_platform(work)
    console.print(f"re-wrapped {count} data key(s) with the current master key")


@app.command("rotate-jwt")
@handle_errors
def rotate_jwt() -> None:
    """Start signing access tokens with a new key; the old one verifies until its tokens expire."""

    async def work(platform: Platform) -> str:
        async with platform.unit_of_work() as session:
            return await platform.signer.rotate(session)

    console.print(f"new signing key {run_with_platform(work)} is active")
