"""Encryption of secrets at rest (AWS secret keys, webhook signing secrets, subscription endpoints,
monitor headers).

Fernet (AES-128-CBC + HMAC-SHA256) with a key from the ``secret_key`` setting,
or else a key file created once in the data directory with mode 0600.

``seal``/``unseal`` mark what they encrypt with a prefix, so a column written
before it was encrypted still reads (and is sealed on the next write);
``digest`` is a keyed hash for finding a row by a secret value without
storing the value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from rexwatch.errors import ConfigError

SEALED = "enc:"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._lookup_key = hashlib.sha256(b"rexwatch-lookup\0" + key).digest()

    @classmethod
    def from_settings(cls, secret_key: str, data_dir: Path) -> SecretBox:
        if secret_key:
            # Any passphrase works: derive a Fernet key from it.
            digest = hashlib.sha256(secret_key.encode()).digest()
            return cls(base64.urlsafe_b64encode(digest))
        path = data_dir / "secret.key"
        try:
            if not path.exists():
                data_dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(Fernet.generate_key())
            return cls(path.read_bytes().strip())
        except FileExistsError:
            return cls(path.read_bytes().strip())
        except OSError as e:
            raise ConfigError(f"cannot create the secret key file {path}: {e.strerror}")
        except ValueError:
            raise ConfigError(f"secret key file {path} is corrupt")

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def seal(self, plain: str) -> str:
        return SEALED + self.encrypt(plain)

    def unseal(self, stored: str) -> str:
        """The plain value of a sealed column; a value stored before sealing existed is returned as is."""
        return self.decrypt(stored[len(SEALED):]) if stored.startswith(SEALED) else stored

    @staticmethod
    def is_sealed(stored: str) -> bool:
        return stored.startswith(SEALED)

    def digest(self, plain: str) -> str:
        """A keyed hash of ``plain`` (hex): equal values have equal digests; nobody without the key can
        test guesses against it."""
        return hmac.new(self._lookup_key, plain.encode(), hashlib.sha256).hexdigest()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigError("a stored secret cannot be decrypted: the secret key changed")
