"""Files of personal data at rest, sealed with the user's key in chunks of a fixed size.

A health upload waiting for its import and a GDPR export waiting for its download are
both personal data on disk: they are written as an 8-byte plaintext size, then 1 MiB
chunks each sealed on its own (the chunk's index is in its purpose, so chunks cannot be
swapped). Reading back needs one chunk in memory at a time, and seeks (a zip does).
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

CHUNK = 1 << 20
SEALED_CHUNK = CHUNK + 1 + 12 + 16  # version byte, nonce, tag
HEADER = struct.Struct(">Q")  # the plaintext size, so the reader knows where it ends

SealChunk = Callable[[int, bytes], bytes]
OpenChunk = Callable[[int, bytes], bytes]


def private(path: str, flags: int) -> int:
    """An `opener` for `open()`: the file readable by its owner only."""
    return os.open(path, flags, 0o600)


class SealedWriter(io.RawIOBase):
    """Writes a sealed file as a stream (a zip written member by member goes straight
    in): whole chunks are sealed as they fill, the size goes into the header on
    `finish()`. Not seekable, so a zip writes data descriptors instead of seeking back."""

    def __init__(self, raw: BinaryIO, seal_chunk: SealChunk) -> None:
        self.raw, self.seal_chunk = raw, seal_chunk
        self.size = 0
        self.index = 0
        self.pending = bytearray()
        raw.write(HEADER.pack(0))

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.size

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.size += len(data)
        self.pending += data
        while len(self.pending) >= CHUNK:
            self.raw.write(self.seal_chunk(self.index, bytes(self.pending[:CHUNK])))
            del self.pending[:CHUNK]
            self.index += 1
        return len(data)

    def finish(self) -> int:
        """Seal what is left and write the size; returns the plaintext size."""
        if self.pending:
            self.raw.write(self.seal_chunk(self.index, bytes(self.pending)))
            self.pending.clear()
            self.index += 1
        self.raw.seek(0)
        self.raw.write(HEADER.pack(self.size))
        self.raw.flush()
        return self.size


class SealedReader(io.RawIOBase):
    """The plaintext of a sealed file, readable and seekable, one chunk in memory."""

    def __init__(self, raw: BinaryIO, open_chunk: OpenChunk) -> None:
        self.raw, self.open_chunk = raw, open_chunk
        (self.size,) = HEADER.unpack(raw.read(HEADER.size))
        self.position = 0
        self.loaded: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.position >= self.size:
            return 0
        index, offset = divmod(self.position, CHUNK)
        if self.loaded is None or self.loaded[0] != index:
            self.raw.seek(HEADER.size + index * SEALED_CHUNK)
            self.loaded = (index, self.open_chunk(index, self.raw.read(SEALED_CHUNK)))
        data = self.loaded[1][offset:]
        count = min(len(buffer), len(data), self.size - self.position)
        buffer[:count] = data[:count]
        self.position += count
        return count


def sealed_chunks(raw: BinaryIO, open_chunk: OpenChunk) -> Iterator[bytes]:
    """The plaintext of a sealed file, chunk after chunk (a download's body)."""
    (size,) = HEADER.unpack(raw.read(HEADER.size))
    index = 0
    left = size
    while left > 0:
        blob = raw.read(SEALED_CHUNK)
        if not blob:
            raise ValueError("the sealed file is shorter than its header says")
        data = open_chunk(index, blob)
        yield data[:left]
        left -= len(data)
        index += 1
