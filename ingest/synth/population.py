"""Each association's patient pool: identities, birth dates, residence, NIR, phones; repeat callers.

The pool depends only on (seed, association, scale): births are spread evenly over 1900-2040 so that, on
any day of any generated range, every age has patients to draw from, and the same patient comes back
across ranges with the same identity. Which patients call, and at what age, is decided per act
(`Pool.pick`); a heavy-tailed propensity makes some of them frequent callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np

from ingest.synth import names, reference
from ingest.synth.network import Association

_POOL_TAG = 0x0B0B
BIRTH_FIRST = date(1900, 1, 1).toordinal() - date(1970, 1, 1).toordinal()
BIRTH_LAST = date(2040, 12, 31).toordinal() - date(1970, 1, 1).toordinal()
DAYS_PER_YEAR = 365.2425
_KEY_SHIFT = 40_000  # makes birth ordinals (from -25567) positive inside the sort key
_SEX_STRIDE = 1_000_000
NIR_KNOWN = 0.7
# Children are seen on the carte Vitale of an insured parent (ouvrant droit): the NIR the software records
# is the parent's. Kept by people born from 2005 on, the whole history long (a simplification: in life a
# child gets their own card at 16), so several patients of a pool share a NIR, as in real extracts.
CHILD_ON_PARENT_NIR = 0.6
_CHILD_BORN_FROM = date(2005, 1, 1).toordinal() - date(1970, 1, 1).toordinal()
_PARENT_TAG = 0x9A
PHONE_KNOWN = 0.85
EHPAD_SHARE_OLD = 0.15  # share of people born before 1950 who end up in a nursing home


@dataclass(frozen=True)
class Pool:
    """Patients, every field an array over them: first the living (who come back, by propensity),
    sorted by (sex, birth date), then, once `with_deceased` has added them, one person per death
    certificate (from `n_living` on).

    A death certificate is the only act of a deceased patient: each is a person of its own, made from
    the act's own random numbers, so no act of a patient ever follows their death and nobody is
    certified dead twice, whatever range is generated (a range must give the same files as its
    sub-ranges, so a death cannot be looked up in other days)."""

    sex: np.ndarray  # 0 male, 1 female
    birth: np.ndarray  # day ordinal since 1970-01-01
    key: np.ndarray  # sex * _SEX_STRIDE + birth + _KEY_SHIFT (sorted within each block)
    cum_propensity: np.ndarray  # the living: length n_living + 1, starts at 0
    n_living: int
    last_name: np.ndarray  # index into names.LAST_NAMES
    last_name2: np.ndarray  # second part of a double name, -1 when none
    first_name: np.ndarray  # index into the sex x generation list
    generation: np.ndarray
    commune: np.ndarray  # index into reference.communes()
    street: np.ndarray
    number: np.ndarray
    number_suffix: np.ndarray  # 0 none, 1 bis, 2 ter
    complement: np.ndarray
    ehpad: np.ndarray  # index into Association.ehpads, -1 when living at home
    phone_kind: np.ndarray  # 0 none, 1 mobile 06, 2 mobile 07, 3 landline
    phone_digits: np.ndarray  # 8 digits after the two-digit prefix
    phone_style: np.ndarray  # 0 spaces, 1 dots, 2 packed
    nir_body: np.ndarray  # 13 NIR digits as an integer (Corsica as 19/18), -1 when unknown
    nir_corsica: np.ndarray  # 1 born in 2A, 2 in 2B, 0 elsewhere
    postal_variant: np.ndarray

    def __len__(self) -> int:
        return len(self.sex)

    def pick(self, day: np.ndarray, age: np.ndarray, sex: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Living patients of the given sex aged `age` on `day` (ordinals), drawn by propensity."""
        key, cum = self.key[: self.n_living], self.cum_propensity
        hi_birth = np.floor(day - age * DAYS_PER_YEAR).astype(np.int64)
        lo_birth = np.floor(day - (age + 1) * DAYS_PER_YEAR).astype(np.int64) + 1
        base = sex.astype(np.int64) * _SEX_STRIDE + _KEY_SHIFT
        lo = np.searchsorted(key, base + lo_birth, side="left")
        hi = np.searchsorted(key, base + hi_birth, side="right")
        # An empty window (tiny pools) falls back to the nearest older patient of that sex.
        empty = hi <= lo
        lo = np.where(empty, np.maximum(lo - 1, 0), lo)
        hi = np.where(empty, lo + 1, hi)
        target = cum[lo] + u * (cum[hi] - cum[lo])
        return np.clip(np.searchsorted(cum, target, side="right") - 1, lo, hi - 1)

    def with_deceased(
        self, assoc: Association, day: np.ndarray, age: np.ndarray, sex: np.ndarray, u: np.ndarray
    ) -> tuple[Pool, np.ndarray]:
        """This pool with one new person per death certificate (its call day, the deceased's age and
        sex, and one of its uniforms, from which everything else about them is derived), and their
        indices in it."""
        people = _deceased_people(assoc, day, age, sex, u)
        fields = {name: np.concatenate([getattr(self, name), people[name]]) for name in people}
        extended = Pool(**fields, cum_propensity=self.cum_propensity, n_living=self.n_living)
        return extended, len(self) + np.arange(len(day))


def build_pool(assoc: Association, seed: int, scale: float) -> Pool:
    # Patients per one-year birth cohort: enough for repeat visits to look like real repeat visits.
    per_year = max(40, round(0.02 * assoc.annual_acts * scale))
    living = _draw_people(assoc, seed, per_year * 141)
    return Pool(
        **{name: values for name, values in living.items() if name != "cum_propensity"},
        cum_propensity=living["cum_propensity"],
        n_living=len(living["sex"]),
    )


def _draw_people(assoc: Association, seed: int, n: int) -> dict[str, np.ndarray]:
    rng = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_POOL_TAG, assoc.index)))
    )
    sex = (rng.random(n) < 0.5).astype(np.int64)
    birth = rng.integers(BIRTH_FIRST, BIRTH_LAST + 1, size=n)
    key = sex * _SEX_STRIDE + birth + _KEY_SHIFT
    order = np.argsort(key, kind="stable")
    sex, birth, key = sex[order], birth[order], key[order]
    frequent = rng.random(n) < 0.02
    propensity = rng.lognormal(0.0, 0.9, size=n) * np.where(frequent, 8.0, 1.0)
    cum = np.concatenate([[0.0], np.cumsum(propensity)])
    ln_w = _last_name_weights()
    last = rng.choice(len(names.LAST_NAMES), size=n, p=ln_w)
    last2 = np.where(rng.random(n) < 0.04, rng.choice(len(names.LAST_NAMES), size=n, p=ln_w), -1)
    birth_year = (birth / DAYS_PER_YEAR + 1970).astype(np.int64)
    generation = np.searchsorted(np.array(names.GENERATION_BOUNDS), birth_year, side="right")
    first = rng.integers(0, 30, size=n)
    commune = assoc.catchment[rng.choice(len(assoc.catchment), size=n, p=assoc.catchment_weight)]
    ehpad = np.where(
        (birth_year < 1950) & (rng.random(n) < EHPAD_SHARE_OLD),
        rng.integers(0, len(assoc.ehpads), size=n),
        -1,
    )
    commune = _home_commune(assoc, commune, ehpad)
    phone_kind = np.where(rng.random(n) < PHONE_KNOWN, rng.choice([1, 2, 3], size=n, p=[0.5, 0.25, 0.25]), 0)
    phone_digits = rng.integers(0, 10**8, size=n)
    nir_body, nir_corsica = _make_nir(rng, n, sex, birth, commune)
    # Own stream: the draws above (and so every pool already generated) stay what they were.
    parent_rng = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_POOL_TAG, assoc.index, 0, _PARENT_TAG)))
    )
    nir_body, nir_corsica = _children_on_parent_nir(parent_rng, birth, key, nir_body, nir_corsica)
    return dict(
        sex=sex,
        birth=birth,
        key=key,
        cum_propensity=cum,
        last_name=last,
        last_name2=last2,
        first_name=first,
        generation=generation,
        commune=commune,
        street=rng.integers(0, len(names.STREET_TYPES_AND_NAMES), size=n),
        number=np.minimum(rng.geometric(0.04, size=n), 250),
        number_suffix=rng.choice(3, size=n, p=[0.93, 0.05, 0.02]),
        complement=rng.integers(0, len(names.ADDRESS_COMPLEMENTS), size=n),
        ehpad=ehpad,
        phone_kind=phone_kind,
        phone_digits=phone_digits,
        phone_style=rng.choice(3, size=n, p=[0.6, 0.25, 0.15]),
        nir_body=nir_body,
        nir_corsica=nir_corsica,
        postal_variant=rng.integers(0, 20, size=n),
    )


def _home_commune(assoc: Association, commune: np.ndarray, ehpad: np.ndarray) -> np.ndarray:
    """Where each person lives: their nursing home's commune, if any (`ehpad` >= 0), else `commune`."""
    ehpad_commune = np.array([assoc.catchment[e[1]] for e in assoc.ehpads])
    return np.where(ehpad >= 0, ehpad_commune[np.maximum(ehpad, 0)], commune)


def _children_on_parent_nir(
    rng: np.random.Generator,
    birth: np.ndarray,
    key: np.ndarray,
    nir_body: np.ndarray,
    nir_corsica: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Give a share of the children the NIR of a parent of the same pool, 20 to 45 years older."""
    n = len(birth)
    parent_birth = birth - (rng.uniform(20, 45, size=n) * DAYS_PER_YEAR).astype(np.int64)
    parent_sex = rng.integers(0, 2, size=n)
    # `key` is sorted by (sex, birth): the nearest person of the drawn sex born on the drawn day.
    parent = np.clip(np.searchsorted(key, parent_sex * _SEX_STRIDE + parent_birth + _KEY_SHIFT), 0, n - 1)
    age_gap = (birth - birth[parent]) / DAYS_PER_YEAR
    on_parent = (
        (birth >= _CHILD_BORN_FROM)
        & (rng.random(n) < CHILD_ON_PARENT_NIR)
        & (nir_body >= 0)
        & (nir_body[parent] >= 0)
        & (age_gap >= 15)
        & (age_gap <= 50)
    )
    return np.where(on_parent, nir_body[parent], nir_body), np.where(
        on_parent, nir_corsica[parent], nir_corsica
    )


@cache
def _commune_birth_codes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per commune: département number as used in the NIR key, commune digits, Corsica flag (1 2A, 2 2B)."""
    codes = reference.communes().code
    dep = np.array([c[:2] for c in codes])
    corsica = np.where(dep == "2A", 1, np.where(dep == "2B", 2, 0))
    dep_num = np.where(corsica == 1, 19, np.where(corsica == 2, 18, 0))
    dep_num[corsica == 0] = dep[corsica == 0].astype(np.int64)
    com3 = np.array([c[2:] for c in codes]).astype(np.int64)
    return dep_num, com3, corsica


def _make_nir(
    rng: np.random.Generator, n: int, sex: np.ndarray, birth: np.ndarray, commune: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """NIR bodies (13 digits as an integer, -1 when unknown) and their Corsica flag."""
    com = reference.communes()
    where = rng.random(n)
    elsewhere = rng.choice(len(com.code), size=n, p=com.population / com.population.sum())
    country = rng.choice(np.array(names.BIRTH_COUNTRY_CODES).astype(np.int64), size=n)
    order = rng.integers(1, 1000, size=n)
    known = rng.random(n) < NIR_KNOWN
    return _nir(sex, birth, commune, where, elsewhere, country, order, known)


def _nir(
    sex: np.ndarray,
    birth: np.ndarray,
    commune: np.ndarray,
    where: np.ndarray,
    elsewhere: np.ndarray,
    country: np.ndarray,
    order: np.ndarray,
    known: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    dep_num, com3, corsica = _commune_birth_codes()
    # Birthplace: mostly where they live, some elsewhere in France, some abroad ('99' + country).
    place = np.where(where < 0.7, commune, elsewhere)
    abroad = where > 0.92
    dep = np.where(abroad, 99, dep_num[place])
    c3 = np.where(abroad, country, com3[place])
    days = birth.astype("datetime64[D]")
    yy = (days.astype("datetime64[Y]").astype(np.int64) + 1970) % 100
    mm = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    body = (sex + 1) * 10**12 + yy * 10**10 + mm * 10**8 + dep * 10**6 + c3 * 10**3 + order
    return np.where(known, body, -1), np.where(abroad, 0, corsica[place])


# ------------------------------------------------------------------------------------------- the deceased


def _deceased_people(
    assoc: Association, day: np.ndarray, age: np.ndarray, sex: np.ndarray, u: np.ndarray
) -> dict[str, np.ndarray]:
    """One person per death certificate, drawn as the living are (same distributions) from uniforms
    derived from the act's own uniform `u`: the same act gives the same person in any range."""
    v = _uniforms(u, 22)
    com = reference.communes()
    birth = np.floor(day - (age + v[:, 0]) * DAYS_PER_YEAR).astype(np.int64)
    birth_year = (birth / DAYS_PER_YEAR + 1970).astype(np.int64)
    last_cum = _cumulative(_last_name_weights())
    ehpad = np.where(
        (birth_year < 1950) & (v[:, 1] < EHPAD_SHARE_OLD),
        _index(v[:, 2], len(assoc.ehpads)),
        -1,
    )
    commune = _home_commune(assoc, assoc.catchment[_draw(v[:, 3], assoc.catchment_weight)], ehpad)
    country_codes = np.array(names.BIRTH_COUNTRY_CODES).astype(np.int64)
    nir_body, nir_corsica = _nir(
        sex,
        birth,
        commune,
        where=v[:, 4],
        elsewhere=_draw(v[:, 5], com.population),
        country=country_codes[_index(v[:, 6], len(country_codes))],
        order=1 + _index(v[:, 7], 999),
        known=v[:, 8] < NIR_KNOWN,
    )
    return dict(
        sex=sex.astype(np.int64),
        birth=birth,
        key=sex * _SEX_STRIDE + birth + _KEY_SHIFT,
        last_name=np.searchsorted(last_cum, v[:, 9], side="right"),
        last_name2=np.where(v[:, 10] < 0.04, np.searchsorted(last_cum, v[:, 11], side="right"), -1),
        first_name=_index(v[:, 12], 30),
        generation=np.searchsorted(np.array(names.GENERATION_BOUNDS), birth_year, side="right"),
        commune=commune,
        street=_index(v[:, 13], len(names.STREET_TYPES_AND_NAMES)),
        # Geometric(0.04) by its inverse distribution function, as rng.geometric draws it.
        number=np.minimum(np.ceil(np.log1p(-v[:, 14]) / np.log1p(-0.04)).astype(np.int64), 250).clip(1),
        number_suffix=_draw(v[:, 15], np.array([0.93, 0.05, 0.02])),
        complement=_index(v[:, 16], len(names.ADDRESS_COMPLEMENTS)),
        ehpad=ehpad,
        phone_kind=np.where(v[:, 17] < PHONE_KNOWN, 1 + _draw(v[:, 18], np.array([0.5, 0.25, 0.25])), 0),
        phone_digits=_index(v[:, 19], 10**8),
        phone_style=_draw(v[:, 20], np.array([0.6, 0.25, 0.15])),
        nir_body=nir_body,
        nir_corsica=nir_corsica,
        postal_variant=_index(v[:, 21], 20),
    )


def _uniforms(u: np.ndarray, k: int) -> np.ndarray:
    """`k` uniforms in [0, 1) per value of `u`, a function of its bits alone (SplitMix64's finaliser
    over the bits and the column number)."""
    bits = np.ascontiguousarray(u, dtype=np.float64).view(np.uint64)
    x = bits[:, None] + np.arange(1, k + 1, dtype=np.uint64)[None, :] * np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def _index(v: np.ndarray, n: int) -> np.ndarray:
    """A uniform index in [0, n)."""
    return np.minimum((v * n).astype(np.int64), n - 1)


def _cumulative(weights: np.ndarray) -> np.ndarray:
    cum = np.cumsum(weights, dtype=np.float64)
    return cum / cum[-1]


def _draw(v: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Indices drawn with probabilities proportional to `weights`, by their inverse distribution."""
    return np.minimum(np.searchsorted(_cumulative(weights), v, side="right"), len(weights) - 1)


@cache
def _last_name_weights() -> np.ndarray:
    # Common surnames are much more common: a Zipf-like draw over the list order.
    weights = 1.0 / (np.arange(len(names.LAST_NAMES)) + 8.0)
    return weights / weights.sum()


def format_nir(body: np.ndarray, corsica: np.ndarray) -> np.ndarray:
    """15-character NIR strings (object array, None where unknown); the key is 97 - body mod 97."""
    out = np.full(len(body), None, dtype=object)
    known = body >= 0
    if not known.any():
        return out
    b = body[known]
    text = np.char.zfill(b.astype(str), 13)
    key = np.char.zfill((97 - b % 97).astype(str), 2)
    cor = corsica[known]
    head = np.char.add(
        np.char.add(
            _slice(text, 0, 5), np.where(cor == 1, "2A", np.where(cor == 2, "2B", _slice(text, 5, 7)))
        ),
        _slice(text, 7, 13),
    )
    out[known] = np.char.add(head, key).astype(object)
    return out


def _slice(a: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return a.view("<U1").reshape(len(a), -1)[:, lo:hi].copy().view(f"<U{hi - lo}").ravel()
