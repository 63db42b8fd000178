"""SM3, SM4 and SM2 match their standards' vectors; field tokens open only with the right key, untouched."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import sm3 as gmssl_sm3  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from dthub.hub.crypto import (
    SM2_CURVE,
    AuthenticationFailed,
    CryptoError,
    DataKey,
    MalformedToken,
    MasterKey,
    WrongKey,
    decrypt_field,
    decrypt_fields,
    encrypt_field,
    encrypt_fields,
    hmac_sm3,
    key_id_of,
    master_id_of,
    new_data_key,
    rotate_master_key,
    sm2_generate_keypair,
    sm2_sign,
    sm2_verify,
    sm3,
    unwrap_data_key,
    wrap_data_key,
)

SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def decrypt_in_column(token: str, key: DataKey, *, context: bytes = b"") -> str:
    """`decrypt_fields` on a column of one, so every refusal test holds for the column path too."""
    plain = decrypt_fields([token], key, context=context)[0]
    assert plain is not None
    return plain


Opener = Callable[..., str]
OPENERS = pytest.mark.parametrize("opener", [decrypt_field, decrypt_in_column], ids=["field", "column"])


def test_sm3_matches_gb_t_32905_examples() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def rfc_2104_over_gmssl_sm3(key: bytes, message: bytes) -> bytes:
    """HMAC written out from RFC 2104 on gmssl's pure-Python SM3: an independent implementation."""
    block = 64
    key = bytes.fromhex(gmssl_sm3.sm3_hash(list(key))) if len(key) > block else key
    key = key.ljust(block, b"\0")
    inner = bytes.fromhex(gmssl_sm3.sm3_hash(list(bytes(b ^ 0x36 for b in key) + message)))
    return bytes.fromhex(gmssl_sm3.sm3_hash(list(bytes(b ^ 0x5C for b in key) + inner)))


@settings(max_examples=25)
@given(key=st.binary(min_size=1, max_size=100), message=st.binary(max_size=200))
def test_hmac_sm3_agrees_with_rfc_2104_on_an_independent_sm3(key: bytes, message: bytes) -> None:
    assert hmac_sm3(key, message) == rfc_2104_over_gmssl_sm3(key, message)


def test_sm4_matches_gb_t_32907_examples() -> None:
    encryptor = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    block = encryptor.update(SM4_KEY)
    assert block.hex() == "681edf34d206965e86b3e94f536e4246"
    for _ in range(999_999):
        block = encryptor.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


def test_sm4_gcm_matches_rfc_8998_appendix_a() -> None:
    plaintext = bytes.fromhex("".join(c * 16 for c in "ABCDEFEA"))
    encryptor = Cipher(
        algorithms.SM4(SM4_KEY), modes.GCM(bytes.fromhex("00001234567800000000ABCD"))
    ).encryptor()
    encryptor.authenticate_additional_data(bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2"))
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    assert ciphertext.hex().upper() == (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    )
    assert encryptor.tag.hex().upper() == "83DE3541E4C2B58177E065A9BF7B62EC"


def test_field_round_trips_with_a_fresh_nonce_each_time() -> None:
    key = new_data_key("roads.vehicles/plate")
    first, second = (encrypt_field("津A12345", key, context=b"plate") for _ in range(2))
    assert first != second
    assert (
        decrypt_field(first, key, context=b"plate")
        == decrypt_field(second, key, context=b"plate")
        == "津A12345"
    )
    assert key_id_of(first) == "roads.vehicles/plate"


def test_a_column_seals_and_opens_like_its_values_one_by_one_and_keeps_nulls() -> None:
    key = new_data_key("vehicles.tracks/phone")
    values = ["13812345678", None, "津A12345", "", "15900000000"]
    one_by_one = [None if v is None else encrypt_field(v, key, context=b"phone") for v in values]
    column = encrypt_fields(values, key, context=b"phone")

    assert decrypt_fields(one_by_one, key, context=b"phone") == values
    assert [None if t is None else decrypt_field(t, key, context=b"phone") for t in column] == values
    assert len({t for t in column if t is not None} | {t for t in one_by_one if t is not None}) == 8


@OPENERS
def test_wrong_key_id_wrong_secret_and_wrong_context_are_refused(opener: Opener) -> None:
    key = new_data_key("k1")
    token = encrypt_field("13812345678", key)
    with pytest.raises(WrongKey, match="'k1'"):
        opener(token, new_data_key("k2"))
    with pytest.raises(AuthenticationFailed):
        opener(token, new_data_key("k1"))
    with pytest.raises(AuthenticationFailed):
        opener(token, key, context=b"another column")


@OPENERS
@given(data=st.data())
def test_any_altered_byte_is_refused(opener: Opener, data: st.DataObject) -> None:
    key = DataKey("k", bytes(16))
    raw = bytearray(base64.urlsafe_b64decode(encrypt_field("津A12345", key) + "=="))
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises(CryptoError):
        opener(base64.urlsafe_b64encode(bytes(raw)).decode(), key)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!!",
        base64.urlsafe_b64encode(b"\x02\x01k").decode(),
        base64.urlsafe_b64encode(b"\x01\x01k").decode(),
    ],
    ids=["empty", "not_base64", "version_2", "truncated"],
)
@OPENERS
def test_junk_token_is_malformed(opener: Opener, token: str) -> None:
    with pytest.raises(MalformedToken):
        opener(token, DataKey("k", bytes(16)))


def test_keys_refuse_bad_sizes_and_hide_their_secret() -> None:
    with pytest.raises(ValueError, match="SM4 wants 16"):
        DataKey("k", bytes(15))
    assert repr(DataKey("k", b"S" * 16)) == "DataKey(id='k')"


def test_rotating_the_master_key_rewraps_without_touching_data() -> None:
    old, new = MasterKey("m2025", bytes(range(16))), MasterKey("m2026", bytes(range(16, 32)))
    keys = [new_data_key(f"dataset-{i}") for i in range(3)]
    tokens = [encrypt_field(f"value {i}", key) for i, key in enumerate(keys)]
    wrapped = [wrap_data_key(key, old) for key in keys]

    rotated = rotate_master_key(old, new, wrapped)

    assert [master_id_of(w) for w in rotated] == ["m2026"] * 3
    assert [decrypt_field(t, unwrap_data_key(w, new)) for t, w in zip(tokens, rotated, strict=True)] == [
        "value 0",
        "value 1",
        "value 2",
    ]
    assert rotate_master_key(old, new, rotated) == rotated  # an interrupted rotation runs again
    with pytest.raises(WrongKey):
        unwrap_data_key(rotated[0], old)
    with pytest.raises(AuthenticationFailed):
        unwrap_data_key(wrapped[0], MasterKey("m2025", bytes(16)))


def test_sm2_public_key_is_on_the_recommended_curve() -> None:
    keys = sm2_generate_keypair()
    p, a, b = (int(SM2_CURVE[name], 16) for name in "pab")
    x, y = int(keys.public_key[:64], 16), int(keys.public_key[64:], 16)
    assert (y * y - (x**3 + a * x + b)) % p == 0
    assert "private_key" not in repr(keys)


def test_sm2_signatures_verify_and_differ_each_time() -> None:
    keys = sm2_generate_keypair()
    random.seed(7)
    first = sm2_sign(b"audit head 1000", keys)
    random.seed(7)  # gmssl's own random would repeat here; the nonce comes from secrets
    second = sm2_sign(b"audit head 1000", keys)
    assert first != second
    assert sm2_verify(b"audit head 1000", first, keys.public_key)
    assert sm2_verify(b"audit head 1000", second, keys.public_key)


def test_sm2_refuses_another_message_another_key_and_junk() -> None:
    keys = sm2_generate_keypair()
    signature = sm2_sign(b"audit head 1000", keys)
    assert not sm2_verify(b"audit head 1001", signature, keys.public_key)
    assert not sm2_verify(b"audit head 1000", signature, sm2_generate_keypair().public_key)
    for junk in ["", "zz" * 64, "0" * 128, signature[:-2], signature + "00"]:
        assert not sm2_verify(b"audit head 1000", junk, keys.public_key)
