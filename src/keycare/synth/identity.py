"""Well-formed fake identities, vectorised: Chinese names, mobile numbers, resident ID numbers
(GB 11643 check digit), IMEIs (Luhn check digit). Pure numpy, no Django."""

import numpy as np

from keycare.synth import reference as ref

ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK_CHARS = np.array(list("10X98765432"))

_SURNAMES = np.array([s for s, _ in ref.SURNAMES])
_SURNAME_P = np.array([w for _, w in ref.SURNAMES], dtype=float)
_SURNAME_P /= _SURNAME_P.sum()
_MALE = np.array(ref.GIVEN_MALE + ref.GIVEN_ANY)
_FEMALE = np.array(ref.GIVEN_FEMALE + ref.GIVEN_ANY)
_PREFIXES = np.array(ref.MOBILE_PREFIXES)

# Affine bijection on [0, len(prefixes) * 10**8): consecutive indices land far apart.
_NUMBER_SPACE = len(ref.MOBILE_PREFIXES) * 100_000_000
_NUMBER_MULT = 1_234_567_891  # coprime with _NUMBER_SPACE


def chinese_names(rng: np.random.Generator, is_male: np.ndarray) -> np.ndarray:
    """Surname + one or two given-name characters drawn from gender-typical sets."""
    n = len(is_male)
    surname = _SURNAMES[rng.choice(len(_SURNAMES), size=n, p=_SURNAME_P)]
    first = np.where(
        is_male, _MALE[rng.integers(0, len(_MALE), n)], _FEMALE[rng.integers(0, len(_FEMALE), n)]
    )
    second = np.where(
        is_male, _MALE[rng.integers(0, len(_MALE), n)], _FEMALE[rng.integers(0, len(_FEMALE), n)]
    )
    two_chars = rng.random(n) < 0.7
    given = np.where(two_chars, np.strings.add(first, second), first)
    return np.strings.add(surname, given).astype(object)


def mobile_numbers(global_index: np.ndarray, salt: int = 0) -> np.ndarray:
    """Unique 11-digit China Mobile numbers: a bijection from the global index (unique for
    up to 10**9 indices per salt)."""
    idx = global_index.astype(np.int64) + salt * 1_000_000_000
    z = (idx * _NUMBER_MULT + 98_765_431) % _NUMBER_SPACE
    prefix = _PREFIXES[z // 100_000_000]
    suffix = z % 100_000_000
    return np.strings.add(prefix, np.strings.zfill(suffix.astype(np.str_), 8)).astype(object)


def id_check_digit(first17: np.ndarray) -> np.ndarray:
    """GB 11643-1999 check character for 17-digit integers (as int64)."""
    powers = 10 ** np.arange(16, -1, -1, dtype=np.int64)
    digits = (first17[:, None] // powers[None, :]) % 10
    return ID_CHECK_CHARS[(digits * ID_WEIGHTS).sum(axis=1) % 11]


def id_numbers(
    rng: np.random.Generator,
    region_codes: np.ndarray,
    birth_dates: np.ndarray,
    is_male: np.ndarray,
) -> np.ndarray:
    """18-digit resident ID numbers: region code + YYYYMMDD + sequence (odd for men) + check."""
    days = birth_dates.astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    seq = rng.integers(0, 500, len(days)) * 2 + np.where(is_male, 1, 0)
    first17 = (
        region_codes.astype(np.int64) * 10**11 + years * 10**7 + months * 10**5 + dom * 10**3 + seq
    )
    return np.strings.add(first17.astype(np.str_), id_check_digit(first17)).astype(object)


def luhn_check_digit(payload: np.ndarray, length: int) -> np.ndarray:
    """Luhn check digit for integers of ``length`` digits (as int64)."""
    powers = 10 ** np.arange(length - 1, -1, -1, dtype=np.int64)
    digits = (payload[:, None] // powers[None, :]) % 10
    # The rightmost payload digit is doubled, then every second one to its left.
    doubled = (np.arange(length)[::-1] % 2) == 0
    values = np.where(doubled[None, :], digits * 2, digits)
    values = np.where(values > 9, values - 9, values)
    return (10 - values.sum(axis=1) % 10) % 10


def imeis(rng: np.random.Generator, tacs: np.ndarray) -> np.ndarray:
    """15-digit IMEIs: 8-digit TAC + 6-digit serial + Luhn check digit."""
    payload = tacs.astype(np.int64) * 1_000_000 + rng.integers(0, 1_000_000, len(tacs))
    check = luhn_check_digit(payload, 14)
    return (payload * 10 + check).astype(np.str_).astype(object)
