"""Commercial cryptography (商用密码) of the hub: SM3 digests, SM4 field encryption, SM2 signatures.

SM3 (GB/T 32905) and SM4 (GB/T 32907) come from `cryptography` (OpenSSL); SM2 (GB/T 32918) from the
pure-Python `gmssl`, whose own random is `random.choice`, not a CSPRNG: every nonce here comes from
`secrets`. Neither library is a certified module (密评 wants one behind GM/T 0018); they are fine for
development and interoperability.

Field encryption is an envelope: each dataset (or field) has a random 128-bit data key; data keys are
stored wrapped by a master key that never touches the data. Both layers are SM4-GCM (RFC 8998) with a
fresh random 96-bit nonce per value, and authenticate a header naming the key, so a token opened with
the wrong key, or altered, raises `AuthenticationFailed` or `WrongKey` instead of returning garbage.
Random nonces bound one data key to 2**32 values (NIST SP 800-38D 8.3): give each dataset field, or
each partition of a big one, its own data key.

Token layout, base64url without padding (both kinds start with a version byte):
- field:   0x01 ‖ len(key_id) ‖ key_id ‖ nonce(12) ‖ ciphertext ‖ tag(16); the header is the AAD
- wrapped: 0x01 ‖ len(master_id) ‖ master_id ‖ len(key_id) ‖ key_id ‖ nonce(12) ‖ encrypted key(16) ‖ tag(16)
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import sm2  # type: ignore[import-untyped]

from dthub.hub.errors import Refusal

VERSION = 1
KEY_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16


class CryptoError(Refusal):
    """A token or key the hub refuses; `reason` is a stable key the console translates."""


class MalformedToken(CryptoError):
    """Not a token of this module: bad base64, unknown version, truncated."""


class WrongKey(CryptoError):
    """The token names another key than the one given."""


class AuthenticationFailed(CryptoError):
    """The tag does not verify: the token was altered, or the key has the right id and the wrong secret."""


def sm3(data: bytes) -> bytes:
    """SM3 digest, 32 bytes."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104) over SM3, 32 bytes."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


@dataclass(frozen=True)
class SecretKey:
    """A 128-bit SM4 key with a public id; the secret never shows in a repr."""

    id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"key {self.id!r} has {len(self.secret)} bytes; SM4 wants {KEY_BYTES}")
        if not 0 < len(self.id.encode()) < 256:
            raise ValueError(f"key id {self.id!r} must be 1 to 255 bytes of UTF-8")


class DataKey(SecretKey):
    """Encrypts the values of one dataset or field."""


class MasterKey(SecretKey):
    """Wraps data keys; comes from configuration, never from the store."""


def new_data_key(key_id: str | None = None) -> DataKey:
    """A fresh random data key; its id is random too unless given."""
    return DataKey(key_id or secrets.token_hex(8), secrets.token_bytes(KEY_BYTES))


def _id_field(key_id: str) -> bytes:
    raw = key_id.encode()
    return bytes([len(raw)]) + raw


def _seal(key: bytes, header: bytes, plaintext: bytes, context: bytes = b"") -> bytes:
    """header ‖ nonce ‖ ciphertext ‖ tag in base64url; header and context are authenticated, only the
    header is kept."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(header + context)
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return base64.urlsafe_b64encode(header + nonce + ciphertext + encryptor.tag).rstrip(b"=")


def _open(key: bytes, aad: bytes, body: bytes, what: str) -> bytes:
    if len(body) < NONCE_BYTES + TAG_BYTES:
        raise MalformedToken("crypto.truncated", f"{what} body of {len(body)} bytes")
    nonce, ciphertext, tag = body[:NONCE_BYTES], body[NONCE_BYTES:-TAG_BYTES], body[-TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(ciphertext) + decryptor.finalize()
    except InvalidTag:
        raise AuthenticationFailed("crypto.bad_tag", f"{what} does not authenticate") from None


class _Reader:
    """Reads the header fields of a decoded token, failing as MalformedToken."""

    def __init__(self, token: str) -> None:
        try:
            self.raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raise MalformedToken("crypto.not_base64", f"token {token[:24]!r}...") from None
        self.at = 0
        if self.byte() != VERSION:
            raise MalformedToken("crypto.unknown_version", f"version {self.raw[:1].hex()}, want {VERSION}")

    def byte(self) -> int:
        if self.at >= len(self.raw):
            raise MalformedToken("crypto.truncated", f"token ends at byte {self.at}")
        self.at += 1
        return self.raw[self.at - 1]

    def key_id(self) -> str:
        size = self.byte()
        raw = self.raw[self.at : self.at + size]
        self.at += size
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise MalformedToken("crypto.bad_key_id", f"key id bytes {raw.hex()}") from None

    def split(self) -> tuple[bytes, bytes]:
        """(header read so far, the rest)."""
        return self.raw[: self.at], self.raw[self.at :]


def encrypt_field(value: str, key: DataKey, *, context: bytes = b"") -> str:
    """A self-describing token for `value`; `context` (e.g. dataset and column) must match on decrypt."""
    header = bytes([VERSION]) + _id_field(key.id)
    return _seal(key.secret, header, value.encode(), context).decode()


def encrypt_fields(values: Sequence[str | None], key: DataKey, *, context: bytes = b"") -> list[str | None]:
    """`encrypt_field` over a column (nulls stay null), a fresh random nonce for each value."""
    header = bytes([VERSION]) + _id_field(key.id)
    aad, sm4, gcm, encode = header + context, algorithms.SM4(key.secret), modes.GCM, base64.urlsafe_b64encode
    tokens: list[str | None] = []
    for value in values:
        if value is None:
            tokens.append(None)
            continue
        nonce = secrets.token_bytes(NONCE_BYTES)
        encryptor = Cipher(sm4, gcm(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        sealed = encryptor.update(value.encode()) + encryptor.finalize()
        tokens.append(encode(header + nonce + sealed + encryptor.tag).rstrip(b"=").decode())
    return tokens


def key_id_of(token: str) -> str:
    """The id of the data key a field token needs (so the caller can fetch and unwrap it)."""
    return _Reader(token).key_id()


def decrypt_field(token: str, key: DataKey, *, context: bytes = b"") -> str:
    reader = _Reader(token)
    if (key_id := reader.key_id()) != key.id:
        raise WrongKey("crypto.wrong_key", f"token wants data key {key_id!r}, got {key.id!r}")
    header, body = reader.split()
    return _open(key.secret, header + context, body, "field token").decode()


def decrypt_fields(tokens: Sequence[str | None], key: DataKey, *, context: bytes = b"") -> list[str | None]:
    """`decrypt_field` over a column (nulls stay null), reading the header once for the column: the tokens
    of one key share it. A token that does not start with it is opened by `decrypt_field`, which names
    what is wrong with it."""
    header = bytes([VERSION]) + _id_field(key.id)
    aad, size = header + context, len(header)
    sm4, gcm, decode = algorithms.SM4(key.secret), modes.GCM, base64.urlsafe_b64decode
    plain: list[str | None] = []
    for token in tokens:
        if token is None:
            plain.append(None)
            continue
        try:
            raw = decode(token + "=" * (-len(token) % 4))
        except (ValueError, TypeError):
            raw = b""
        if not raw.startswith(header) or len(raw) < size + NONCE_BYTES + TAG_BYTES:
            plain.append(decrypt_field(token, key, context=context))
            continue
        decryptor = Cipher(sm4, gcm(raw[size : size + NONCE_BYTES], raw[-TAG_BYTES:])).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            opened = decryptor.update(raw[size + NONCE_BYTES : -TAG_BYTES]) + decryptor.finalize()
            plain.append(opened.decode())
        except InvalidTag:
            raise AuthenticationFailed("crypto.bad_tag", "field token does not authenticate") from None
    return plain


def wrap_data_key(key: DataKey, master: MasterKey) -> str:
    """The data key encrypted under the master key, naming both (store this, never `key.secret`)."""
    header = bytes([VERSION]) + _id_field(master.id) + _id_field(key.id)
    return _seal(master.secret, header, key.secret).decode()


def unwrap_data_key(wrapped: str, master: MasterKey) -> DataKey:
    reader = _Reader(wrapped)
    if (master_id := reader.key_id()) != master.id:
        raise WrongKey("crypto.wrong_master_key", f"wrapped by {master_id!r}, got {master.id!r}")
    key_id = reader.key_id()
    header, body = reader.split()
    return DataKey(key_id, _open(master.secret, header, body, f"wrapped key {key_id!r}"))


def master_id_of(wrapped: str) -> str:
    """The id of the master key that wrapped a data key."""
    return _Reader(wrapped).key_id()


def rotate_master_key(old: MasterKey, new: MasterKey, wrapped_keys: Iterable[str]) -> list[str]:
    """Each wrapped data key rewrapped under `new`, same data key, so no value needs re-encrypting.

    A key already wrapped by `new` is returned as it is, so an interrupted rotation can simply run again.
    """
    return [
        wrapped if master_id_of(wrapped) == new.id else wrap_data_key(unwrap_data_key(wrapped, old), new)
        for wrapped in wrapped_keys
    ]


SM2_CURVE = sm2.default_ecc_table
SM2_N = int(SM2_CURVE["n"], 16)


@dataclass(frozen=True)
class Sm2KeyPair:
    """An SM2 key pair on the recommended curve: private scalar and public point x ‖ y, both hex."""

    private_key: str = field(repr=False)
    public_key: str


def _signer(private_key: str, public_key: str) -> sm2.CryptSM2:
    signer = sm2.CryptSM2(private_key=private_key, public_key="")
    # gmssl strips a "04" prefix with str.lstrip, which also eats leading 0s and 4s of x: set it directly
    signer.public_key = public_key
    return signer


def sm2_generate_keypair() -> Sm2KeyPair:
    """A new key pair; the private scalar is drawn with `secrets` from [1, n-2]."""
    private = secrets.randbelow(SM2_N - 2) + 1
    public = _signer(f"{private:064x}", "")._kg(private, SM2_CURVE["g"])
    return Sm2KeyPair(f"{private:064x}", public)


def sm2_sign(message: bytes, keys: Sm2KeyPair) -> str:
    """SM2 signature r ‖ s (128 hex) over SM3(Z ‖ message), Z with the default ID 1234567812345678.

    The nonce k is drawn with `secrets`, never with gmssl's `random`; a rare unusable k is drawn again.
    """
    signer = _signer(keys.private_key, keys.public_key)
    while True:
        signature: str | None = signer.sign_with_sm3(message, f"{secrets.randbelow(SM2_N - 1) + 1:064x}")
        if signature is not None:
            return signature


def sm2_verify(message: bytes, signature: str, public_key: str) -> bool:
    """Whether `signature` (r ‖ s, 128 hex) signs `message` for `public_key`; False for any junk."""
    try:
        r, s = int(signature[:64], 16), int(signature[64:], 16)
    except ValueError:
        return False
    if len(signature) != 128 or not (0 < r < SM2_N and 0 < s < SM2_N) or len(public_key) != 128:
        return False
    try:
        return bool(_signer("0" * 64, public_key).verify_with_sm3(signature, message))
    except (ValueError, TypeError):
        return False
