"""Encryption of secrets at rest (AWS secret keys, webhook secrets, SMTP passwords).

Fernet (AES-128-CBC + HMAC-SHA256) with a key from the ``secret_key`` setting,
or else a key file created once in the data directory with mode 0600.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from rexwatch.errors import ConfigError


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

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

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigError("a stored secret cannot be decrypted: the secret key changed")
