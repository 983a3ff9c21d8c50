"""The secrets keystore (`packetshipper keystore create|add|list|remove`), as Beats' keystore is used:
a value stored under KEY is what `${KEY}` in the config file stands for (before the environment).

The store is a JSON file, `packetshipper.keystore` in path.config (else path.home, else the working
directory), created with mode 0600 and refused when anyone but its owner may read or write it. Unlike
Beats' it is not encrypted: the file's permissions are what keep it secret.
"""

from __future__ import annotations

import json
import os
import re
import stat
from typing import Any

from .settings import ConfigError

__all__ = ["FILENAME", "Keystore", "keystore_path"]

FILENAME = "packetshipper.keystore"
MAX_ENTRIES = 10_000
MAX_VALUE_BYTES = 64 * 1024
_KEY = re.compile(r"^\w{1,256}$", re.ASCII)  # what `${KEY}` can name


def keystore_path(path_config: str | None, path_home: str | None) -> str:
    return os.path.join(path_config or path_home or ".", FILENAME)


class Keystore:
    def __init__(self, path: str) -> None:
        self.path = path

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def create(self, force: bool = False) -> None:
        if self.exists() and not force:
            raise ConfigError("", f"keystore {self.path} already exists (keystore create --force replaces it)")
        self._write({})

    def load(self) -> dict[str, str]:
        """The stored values; refused when the file is readable or writable by others than its owner."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ConfigError("", f"keystore {self.path} does not exist (create it: packetshipper keystore create)") \
                from None
        except OSError as exc:
            raise ConfigError("", f"cannot read keystore {self.path}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if mode & 0o077:
                raise ConfigError("", f"keystore {self.path} may be read or written by others (permissions "
                                  f"{stat.filemode(mode)}; to fix: chmod 600 {self.path})")
            data = handle.read(MAX_ENTRIES * (MAX_VALUE_BYTES + 300) + 1)
        try:
            entries: Any = json.loads(data)
        except ValueError:
            raise ConfigError("", f"keystore {self.path} is damaged (not the JSON this writes)") from None
        if not isinstance(entries, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in entries.items()):
            raise ConfigError("", f"keystore {self.path} is damaged (expected key/value text)")
        return entries

    def add(self, key: str, value: str, force: bool = False) -> None:
        if not _KEY.match(key):
            raise ConfigError("", f"keystore key {key!r}: use 1 to 256 letters, digits or _")
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise ConfigError("", f"keystore value of {key}: at most {MAX_VALUE_BYTES} bytes")
        entries = self.load()
        if key in entries and not force:
            raise ConfigError("", f"keystore key {key} exists already (keystore add --force replaces it)")
        if key not in entries and len(entries) >= MAX_ENTRIES:
            raise ConfigError("", f"keystore {self.path} holds {MAX_ENTRIES} keys already")
        entries[key] = value
        self._write(entries)

    def remove(self, keys: list[str]) -> None:
        entries = self.load()
        missing = [key for key in keys if key not in entries]
        if missing:
            raise ConfigError("", f"keystore has no key {', '.join(missing)}")
        for key in keys:
            del entries[key]
        self._write(entries)

    def _write(self, entries: dict[str, str]) -> None:
        """Atomically, and never readable by others, not even for a moment."""
        directory = os.path.dirname(self.path) or "."
        temporary = os.path.join(directory, f".{os.path.basename(self.path)}.{os.getpid()}.tmp")
        try:
            os.makedirs(directory, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)
                json.dump(entries, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            raise ConfigError("", f"cannot write keystore {self.path}: {exc.strerror or exc}") from None
