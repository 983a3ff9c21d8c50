"""`output.file`: ndjson into a size-rotated file, with Beats' file-output semantics.

Events go to `<path>/<filename>`. Before a write would take it over `rotate_every_kb`, the file is
renamed to `<filename>.1`, older ones shift up (`.1` -> `.2` ...), and those past `number_of_files`
backups are deleted; at startup an existing file is rotated the same way (`rotate_on_startup`). As in
Beats' rotator, `number_of_files` counts the backups, so up to that many plus the active file exist.
An event whose line alone is larger than the limit cannot be written; it is dead-lettered.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, BinaryIO, ClassVar, cast

from .. import hotpath
from .. import settings as s
from ..settings import Setting, Spec
from .base import BatchResult, Output, OutputError
from .console import event_documents

__all__ = ["FileOutput", "FileRotator", "MAX_BACKUPS"]

MAX_BACKUPS = 1024
_NEWLINE = b"\n"
_LINES_PER_WRITE = 512  # two iovecs a line: within IOV_MAX (1024 on Linux)


def lines_size(docs: list[bytes]) -> int:
    """The bytes of `docs` written as lines."""
    compiled = hotpath.compiled if hotpath.enabled else None
    return compiled.lines_size(docs) if compiled is not None else sum(map(len, docs)) + len(docs)  # type: ignore[no-any-return]


def _write_lines(fd: int, docs: list[bytes]) -> None:
    """Each document and a newline, with os.writev (what a short write left written on); the compiled
    `write_lines` is its twin."""
    for start in range(0, len(docs), _LINES_PER_WRITE):
        part = docs[start:start + _LINES_PER_WRITE]
        vector: list[bytes] = [_NEWLINE] * (2 * len(part))
        vector[::2] = part
        done = os.writev(fd, vector)
        if done < sum(map(len, part)) + len(part):
            rest = memoryview(b"".join(vector))[done:]
            while rest:
                rest = rest[os.write(fd, rest):]


def _permissions(value: Any) -> int:
    """0600 (YAML reads it as octal), 384, or the string "0600"."""
    if isinstance(value, str):
        try:
            value = int(value, 8)
        except ValueError:
            raise ValueError(f"expected octal permissions such as 0600, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0o777:
        raise ValueError(f"expected permissions from 0000 to 0777, got {value!r}")
    return value


def _number_of_files(value: Any) -> int:
    number = s.at_least(2)(value)
    if number > MAX_BACKUPS:
        raise ValueError(f"must be between 2 and {MAX_BACKUPS}, got {value!r}")
    return int(number)


class FileRotator:
    """Writes to `filename`, rotating by size as described in the module docstring."""

    def __init__(self, filename: str, max_bytes: int, backups: int, permissions: int,
                 rotate_on_startup: bool = True) -> None:
        self.filename = filename
        self.max_bytes = max_bytes
        self.backups = backups
        self.permissions = permissions
        self.rotate_on_startup = rotate_on_startup
        self._file: BinaryIO | None = None
        self._size = 0
        self._started = False
        self.rotations = 0

    def open(self) -> None:
        if self._file is not None:
            return
        os.makedirs(os.path.dirname(self.filename) or ".", mode=self._dir_mode(), exist_ok=True)
        if not self._started and os.path.exists(self.filename) and not self.rotate_on_startup:
            self._open_file(truncate=False)
        else:
            if not self._started and os.path.exists(self.filename):
                self._shift_backups()
            self._open_file(truncate=not self._started)
        self._started = True

    def write(self, data: bytes) -> None:
        self._make_room(len(data))
        assert self._file is not None
        self._file.write(data)
        self._size += len(data)

    def write_lines(self, docs: list[bytes], size: int) -> None:
        """`write(ndjson(docs))` (`size`: `lines_size(docs)`), the documents handed to the kernel as they
        are (writev) rather than joined into one more copy of them all first."""
        self._make_room(size)
        assert self._file is not None
        self._file.flush()  # nothing of the buffered file object's may follow these bytes
        compiled = hotpath.compiled if hotpath.enabled else None
        if compiled is not None:
            compiled.write_lines(self._file.fileno(), docs)
        else:
            _write_lines(self._file.fileno(), docs)
        self._size += size

    def _make_room(self, size: int) -> None:
        if size > self.max_bytes:
            raise ValueError(f"{size} bytes is more than the {self.max_bytes} bytes a file may hold")
        self.open()
        if self._size + size > self.max_bytes:
            self.close()
            self._shift_backups()
            self._open_file(truncate=True)

    def fits(self, size: int) -> bool:
        """True if `size` more bytes go into the current file without rotating it (opens it)."""
        self.open()
        return self._size + size <= self.max_bytes

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            file.close()

    def _open_file(self, truncate: bool) -> None:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND)
        fd = os.open(self.filename, flags, self.permissions)
        self._file = os.fdopen(fd, "ab" if not truncate else "wb")
        self._size = os.fstat(fd).st_size

    def _backup(self, number: int) -> str:
        return self.filename if number == 0 else f"{self.filename}.{number}"

    def _shift_backups(self) -> None:
        for number in range(self.backups, 0, -1):
            older = self._backup(number - 1)
            if os.path.exists(older):
                os.replace(older, self._backup(number))
        number = self.backups + 1
        while number <= MAX_BACKUPS and os.path.exists(self._backup(number)):
            os.unlink(self._backup(number))
            number += 1
        self.rotations += 1

    def _dir_mode(self) -> int:
        mode = 0o700
        if self.permissions & 0o070:
            mode |= 0o050
        if self.permissions & 0o007:
            mode |= 0o005
        return mode


class FileOutput(Output):
    name = "file"
    accepts_encoded = True
    non_str_keys = True
    settings: ClassVar[Spec] = {
        "path": Setting(s.string, None, "directory of the output files", required=True),
        "filename": Setting(s.string, "packetshipper", "name of the active file"),
        "rotate_every_kb": Setting(s.at_least(1), 10240, "rotate before the file grows past this many KiB"),
        "number_of_files": Setting(_number_of_files, 7, "rotated files kept (2 to 1024)"),
        "permissions": Setting(_permissions, 0o600, "mode of the files created"),
        "rotate_on_startup": Setting(s.boolean, True, "rotate an existing file at startup instead of appending"),
    }

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.rotator = FileRotator(
            os.path.join(config["path"], config.get("filename") or "packetshipper"),
            max_bytes=int(config.get("rotate_every_kb", 10240)) * 1024,
            backups=int(config.get("number_of_files", 7)),
            permissions=int(config.get("permissions", 0o600)),
            rotate_on_startup=bool(config.get("rotate_on_startup", True)),
        )
        self.stats = {"bytes": 0, "errors": 0, "rotations": 0, "events_decoded": 0}

    def connect(self) -> None:
        try:
            self.rotator.open()
        except OSError as exc:
            self.stats["errors"] += 1
            raise OutputError(f"cannot open {self.rotator.filename}: {exc}") from exc

    def publish_batch(self, events: list[Any]) -> BatchResult:
        docs, dead = event_documents(self, events)
        written = 0
        try:
            # None only where `dead` says why
            lines = [doc for doc in docs if doc is not None] if dead else cast("list[bytes]", docs)
            size = lines_size(lines)
            if self.rotator.fits(size):  # the whole batch at once
                self.rotator.write_lines(lines, size)
                written = size
            else:  # line by line, rotating between lines
                for index, doc in enumerate(docs):
                    if doc is None:
                        continue
                    line = doc + b"\n"
                    try:
                        self.rotator.write(line)
                    except ValueError as exc:
                        dead.append((index, str(exc)))
                        continue
                    written += len(line)
            self.rotator.flush()
        except OSError as exc:
            self.stats["errors"] += 1
            self.rotator.close()
            raise OutputError(f"cannot write to {self.rotator.filename}: {exc}") from exc
        finally:
            self.stats["rotations"] = self.rotator.rotations
        self.stats["bytes"] += written
        return BatchResult(dead=dead)

    def close(self) -> None:
        try:
            self.rotator.close()
        except OSError:
            self.stats["errors"] += 1
