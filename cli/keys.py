"""`wellcoach keys`: master key rotation."""

from __future__ import annotations

import typer

from cli.common import console, handle_errors
from wellcoach.config import get_settings
from wellcoach.crypto.envelope import encode_key, generate_key
from wellcoach.errors import Conflict
from wellcoach.platform import Platform, run_with_platform
from wellcoach.runtime.keys import dev_key_path, ensure_master_key

app = typer.Typer(help="Encryption keys.", no_args_is_help=True)


@app.command("generate-master")
@handle_errors
def generate_master(
    save: bool = typer.Option(
        False,
        "--save",
        help="Write it to master.key in the data dir (used while WELLCOACH_MASTER_KEY is"
        " unset) instead of printing it; refuses to replace a key kept there.",
    ),
) -> None:
    """Print a new random master key (set it as WELLCOACH_MASTER_KEY), or --save it."""
    if not save:
        console.print(encode_key(generate_key()), soft_wrap=True)
        return
    settings = get_settings()
    path = dev_key_path(settings)
    if path.exists():
        raise Conflict(f"{path} exists already; it may be the key of data sealed under it")
    ensure_master_key(settings.model_copy(update={"master_key": None}))
    note = " (WELLCOACH_MASTER_KEY is set and wins over it)" if settings.master_key else ""
    console.print(f"master key written to {path}{note}", soft_wrap=True)


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
