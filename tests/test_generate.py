"""The synthetic extract generator: determinism, contract conformance, epidemiology, invalid records."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.contract import default_contract
from ingest.records.read_extract import check_name, decode, open_extract, parse
from ingest.records.validate import ean13_ok, luhn_ok, nir_ok, validate
from ingest.synth import CLASSES_BY_ENTITY, ENTITIES, GenerationSummary, generate_extracts, network
from ingest.synth import acts as acts_mod
from ingest.synth.clinical import profiles
from ingest.synth.network import rosters
from ingest.synth.population import NIR_KNOWN, Pool, build_pool

START, END = date(2024, 1, 12), date(2024, 1, 18)  # a Friday to a Thursday
N_ASSOC = 3  # the second association of the network exports Windows-1252
SCALE = 0.05


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.csv"))}


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    out = tmp_path_factory.mktemp("week")
    return generate_extracts(out, START, END, n_associations=N_ASSOC, scale=SCALE, seed=11)


# Across a month's end: two monthly files per association and entity, the first of 4 days, then of 3.
M_START, M_END = date(2024, 1, 28), date(2024, 2, 3)


@pytest.fixture(scope="module")
def days_across_months(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    out = tmp_path_factory.mktemp("days")
    return generate_extracts(out, M_START, M_END, n_associations=2, scale=0.2, seed=5, invalid_share=0.04)


@pytest.fixture(scope="module")
def months(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    out = tmp_path_factory.mktemp("months")
    return generate_extracts(
        out, M_START, M_END, n_associations=2, scale=0.2, seed=5, invalid_share=0.04, file_period="month"
    )


@pytest.fixture(scope="module")
def week_invalid(tmp_path_factory: pytest.TempPathFactory) -> GenerationSummary:
    out = tmp_path_factory.mktemp("week_invalid")
    return generate_extracts(out, START, END, n_associations=N_ASSOC, scale=0.2, seed=5, invalid_share=0.04)


def _read(path: Path) -> tuple[str, str]:
    contract = default_contract()
    f = open_extract(path, contract)
    text, encoding = decode(f)
    return text, encoding


def _validate(path: Path) -> tuple[dict[int, set[str]], str]:
    """Rule names found per line by the project's own ingest parser and validator."""
    contract = default_contract()
    f = open_extract(path, contract)
    entity = check_name(f, contract)
    text, encoding = decode(f)
    parsed = parse(f, text, encoding, entity, contract.delimiter)
    checked = validate(
        parsed.columns,
        entity,
        extract_date=f.extract_date,
        period_start=f.period_start,
        file_name=f.name,
        lines=parsed.lines,
    )
    found: dict[int, set[str]] = {}
    for bad in parsed.bad_rows:
        found.setdefault(bad.line, set()).add(bad.rule)
    for finding in checked.findings:
        found.setdefault(parsed.lines[finding.row], set()).add(finding.rule)
    return found, encoding


# ------------------------------------------------------------------------------------------- files


def test_every_association_day_and_entity_has_a_file(week: GenerationSummary) -> None:
    days = (END - START).days + 1
    assert len(week.files) == N_ASSOC * days * len(ENTITIES)
    codes = [a.code for a in network()[:N_ASSOC]]
    for f in week.files:
        assert f.path == week.out_dir / f.association / f"{f.association}_{f.day:%Y%m%d}_{f.entity}.csv"
        assert f.association in codes
        assert default_contract().file_name_pattern.match(f.path.name)
    assert week.rows("actes") > 100


def test_headers_follow_the_contract_in_order(week: GenerationSummary) -> None:
    contract = default_contract()
    for f in week.files:
        text, _ = _read(f.path)
        header = text.splitlines()[0]
        assert header == ";".join(contract.entities[f.entity].source_names)


def test_valid_generation_passes_the_ingest_validation(week: GenerationSummary) -> None:
    for f in week.files:
        found, _ = _validate(f.path)
        assert found == {}, (f.path.name, found)
        assert f.invalid == {}


def test_french_formats(week: GenerationSummary) -> None:
    acts = [f for f in week.files if f.entity == "actes" and f.rows]
    text, _ = _read(acts[0].path)
    row = text.splitlines()[1].split(";")
    header = text.splitlines()[0].split(";")
    value = dict(zip(header, row, strict=False))
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", value["date_debut"])
    assert re.fullmatch(r"\d{2}:\d{2}", value["heure_appel"])
    vitals = "".join(_read(f.path)[0] for f in week.files if f.entity == "constantes")
    assert re.search(r";3[5-9],\d;", vitals), "temperatures carry a decimal comma"
    assert "." not in "".join(line.split(";")[3] for line in vitals.splitlines()[1:] if ";" in line)
    notes = "".join(_read(f.path)[0] for f in acts)
    assert re.search(r';"[^"\n]*;[^"\n]*"', notes), "a free-text note holding ';' is quoted"


def test_encodings_and_line_endings(week: GenerationSummary) -> None:
    by_assoc = {a.code: a for a in network()[:N_ASSOC]}
    assert sorted(set(week.encodings.values())) == ["cp1252", "utf-8"]
    for f in week.files:
        data = f.path.read_bytes()
        if week.encodings[f.association] == "cp1252":
            assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
            if f.entity == "actes" and f.rows:
                text = data.decode("cp1252")
                assert re.search("[éèçïôëÉ]", text), "accented names survive in Windows-1252"
                with pytest.raises(UnicodeDecodeError):
                    data.decode("utf-8")
        else:
            assert b"\r" not in data
            data.decode("utf-8")
        assert by_assoc[f.association].encoding == week.encodings[f.association]


# ------------------------------------------------------------------------------------ determinism


def test_same_arguments_give_byte_identical_files(week: GenerationSummary, tmp_path: Path) -> None:
    generate_extracts(tmp_path, START, END, n_associations=N_ASSOC, scale=SCALE, seed=11)
    assert _files(tmp_path) == _files(week.out_dir)


def test_a_range_equals_the_union_of_its_sub_ranges(week: GenerationSummary, tmp_path: Path) -> None:
    split = START + timedelta(days=3)
    generate_extracts(
        tmp_path, START, split - timedelta(days=1), n_associations=N_ASSOC, scale=SCALE, seed=11
    )
    generate_extracts(tmp_path, split, END, n_associations=N_ASSOC, scale=SCALE, seed=11)
    assert _files(tmp_path) == _files(week.out_dir)


def test_fewer_associations_is_a_subset_of_the_network(week: GenerationSummary, tmp_path: Path) -> None:
    generate_extracts(tmp_path, START, START, n_associations=1, scale=SCALE, seed=11)
    mine = _files(tmp_path)
    theirs = _files(week.out_dir)
    assert mine and all(theirs[name] == data for name, data in mine.items())


def test_another_seed_gives_other_data(week: GenerationSummary, tmp_path: Path) -> None:
    generate_extracts(tmp_path, START, START, n_associations=1, scale=SCALE, seed=12)
    name = next(iter(_files(tmp_path)))
    other = _files(tmp_path)
    mine = _files(week.out_dir)
    acts = [n for n in other if n.endswith("_actes.csv")]
    assert acts and all(other[n] != mine[n] for n in acts)
    assert name in mine


def _body(path: Path) -> bytes:
    data = path.read_bytes()
    return data[data.index(b"\n") + 1 :]


def _by_period(summary: GenerationSummary) -> dict[tuple[str, str, date], list]:
    """(association, entity, last day of the month) -> that month's files in day order."""
    out: dict[tuple[str, str, date], list] = {}
    for f in sorted(summary.files, key=lambda f: f.day):
        end = min(M_END, (f.day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1))
        out.setdefault((f.association, f.entity, end), []).append(f)
    return out


def test_monthly_files_are_named_by_their_period(months: GenerationSummary) -> None:
    assert len(months.files) == 2 * 2 * len(ENTITIES)
    pattern = default_contract().file_name_pattern
    for f in months.files:
        first, last = (M_START, date(2024, 1, 31)) if f.day.month == 1 else (date(2024, 2, 1), M_END)
        assert (f.first_day, f.day) == (first, last)
        assert f.path.name == f"{f.association}_{first:%Y%m%d}_{last:%Y%m%d}_{f.entity}.csv"
        assert pattern.match(f.path.name)
        assert open_extract(f.path, default_contract()).period_start == first


def test_monthly_files_hold_the_rows_of_their_days(days_across_months, months) -> None:
    """Same seed, same rows (invalid ones and their recorded lines included) whatever the file period;
    a month's doctors are everyone on the roster on one of its days, its sites those of its last day."""
    daily = _by_period(days_across_months)
    monthly = _by_period(months)
    assert set(daily) == set(monthly)
    for key, (month,) in monthly.items():
        days = daily[key]
        entity = key[1]
        if entity == "structures":
            assert _body(month.path) == _body(days[-1].path)
            assert month.invalid_lines == days[-1].invalid_lines
        elif entity == "medecins":
            rpps = [{line.split(b";")[0] for line in _body(f.path).splitlines()} for f in days]
            assert {line.split(b";")[0] for line in _body(month.path).splitlines()} == set().union(*rpps)
        else:
            assert _body(month.path) == b"".join(_body(f.path) for f in days), key
            shifted, offset = {}, 0
            for f in days:
                shifted.update({line + offset: cls for line, cls in f.invalid_lines.items()})
                offset += f.rows
            assert month.invalid_lines == shifted and month.rows == offset, key
    assert sum(len(f.invalid_lines) for f in months.files) > 20


def test_injected_records_in_monthly_files_are_exactly_those_the_ingest_rejects(months) -> None:
    for f in months.files:
        found, _ = _validate(f.path)
        assert found == {line: {cls} for line, cls in f.invalid_lines.items()}, f.path.name


def test_the_generate_command_writes_monthly_files(tmp_path: Path) -> None:
    args = ["generate", "--out", str(tmp_path), "--start", "2024-01-30", "--end", "2024-02-01"]
    result = CliRunner().invoke(
        main, [*args, "--associations", "1", "--scale", "0.05", "--file-period", "month"]
    )
    assert result.exit_code == 0, result.output
    code = network()[0].code
    names = sorted(p.name for p in tmp_path.rglob("*.csv"))
    assert names == sorted(
        f"{code}_{period}_{entity}.csv" for period in ("20240130_20240131", "20240201") for entity in ENTITIES
    )


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="before"):
        generate_extracts(tmp_path, END, START)
    with pytest.raises(ValueError, match="n_associations"):
        generate_extracts(tmp_path, START, END, n_associations=65)
    with pytest.raises(ValueError, match="invalid_share"):
        generate_extracts(tmp_path, START, END, invalid_share=1.5)
    with pytest.raises(ValueError, match="file_period"):
        generate_extracts(tmp_path, START, END, file_period="week")  # type: ignore[arg-type]


# -------------------------------------------------------------------------------- invalid records


def test_injected_records_are_exactly_those_the_ingest_rejects(week_invalid: GenerationSummary) -> None:
    seen: Counter[str] = Counter()
    for f in week_invalid.files:
        found, _ = _validate(f.path)
        expected = {line: {cls} for line, cls in f.invalid_lines.items()}
        assert found == expected, f.path.name
        assert sum(f.invalid.values()) == len(f.invalid_lines)
        seen.update(f"{f.entity}:{c}" for c in f.invalid)
    for entity in ("actes", "diagnostics", "prescriptions", "constantes"):
        for cls in CLASSES_BY_ENTITY[entity]:
            assert seen[f"{entity}:{cls}"] > 0, (entity, cls)


def test_invalid_share_is_respected(week_invalid: GenerationSummary) -> None:
    total = week_invalid.rows()
    injected = sum(week_invalid.invalid_counts().values())
    assert 0.025 * total < injected < 0.055 * total
    for f in week_invalid.files:
        if f.entity in ("medecins", "structures"):
            assert set(f.invalid) <= {"missing_required"}


def test_identifier_keys_are_valid(week: GenerationSummary) -> None:
    nirs, rpps, cips = [], [], []
    for f in week.files:
        text, _ = _read(f.path)
        lines = [line.split(";") for line in text.splitlines()]
        header = lines[0]
        col = {name: i for i, name in enumerate(header)}
        rows = [r for r in lines[1:] if len(r) == len(header)]
        if f.entity == "actes":
            nirs += [r[col["patient_nir"]] for r in rows if r[col["patient_nir"]]]
            rpps += [r[col["rpps_medecin"]] for r in rows]
        elif f.entity == "medecins":
            rpps += [r[col["rpps"]] for r in rows]
        elif f.entity == "prescriptions":
            cips += [r[col["code_cip13"]] for r in rows if r[col["code_cip13"]]]
    assert len(nirs) > 50 and len(rpps) > 50 and len(cips) > 50
    assert nir_ok(pa.array(nirs)).all() and luhn_ok(pa.array(rpps)).all() and ean13_ok(pa.array(cips)).all()
    assert all(len(n) == 15 for n in nirs) and all(re.fullmatch(r"10\d{9}", r) for r in rpps)


# ------------------------------------------------------------------------------------ epidemiology


def _simulated(
    index: int, first: date, last: date, scale: float, seed: int = 3
) -> tuple[acts_mod.Acts, Pool]:
    assoc = network()[index]
    return acts_mod.simulate(
        assoc, build_pool(assoc, seed, scale), rosters(seed)[index], seed, scale, first, last
    )


def _simulate(index: int, first: date, last: date, scale: float, seed: int = 3) -> acts_mod.Acts:
    return _simulated(index, first, last, scale, seed)[0]


@pytest.fixture(scope="module")
def two_seasons_and_pool() -> tuple[acts_mod.Acts, Pool]:
    return _simulated(0, date(2022, 7, 1), date(2024, 6, 30), 0.15)


@pytest.fixture(scope="module")
def two_seasons(two_seasons_and_pool: tuple[acts_mod.Acts, Pool]) -> acts_mod.Acts:
    return two_seasons_and_pool[0]


_PERSON = (
    "sex",
    "birth",
    "last_name",
    "last_name2",
    "first_name",
    "commune",
    "ehpad",
    "nir_body",
    "phone_digits",
)


def test_a_death_certificate_is_its_patients_only_and_last_act(two_seasons_and_pool) -> None:
    """Each death certificate is a person of their own, apart from the patients who come back, so no
    act follows a patient's death (the CDM's plausibleBeforeDeath check relies on it) and nobody is
    certified dead twice; the same certificate names the same person whatever range is generated."""
    acts, pool = two_seasons_and_pool
    dead = acts.outcome == 4
    assert 0.002 < dead.mean() < 0.05
    assert (acts.patient[dead] >= pool.n_living).all() and (acts.patient[~dead] < pool.n_living).all()
    assert len(np.unique(acts.patient[dead])) == dead.sum() > 100
    # The deceased's age and sex agree with their record, as for the living.
    age_at_act = (acts.call_day - pool.birth[acts.patient]) // 365.2425
    assert (np.abs(age_at_act[dead] - acts.age[dead]) <= 1).all()
    assert (pool.nir_body[acts.patient[dead]] >= 0).mean() == pytest.approx(NIR_KNOWN, abs=0.1)

    part, part_pool = _simulated(0, date(2023, 1, 1), date(2023, 3, 31), 0.15)
    part_dead = part.outcome == 4
    whole = {
        (int(d), int(q)): int(p)
        for d, q, p in zip(acts.call_day[dead], acts.seq[dead], acts.patient[dead], strict=True)
    }
    matched = 0
    for d, q, p in zip(part.call_day[part_dead], part.seq[part_dead], part.patient[part_dead], strict=True):
        if (int(d), int(q)) in whole:
            other = whole[(int(d), int(q))]
            assert [getattr(part_pool, f)[p] for f in _PERSON] == [getattr(pool, f)[other] for f in _PERSON]
            matched += 1
    assert matched > 20


def _codes(acts: acts_mod.Acts) -> np.ndarray:
    return np.array(profiles().codes)[acts.cond]


def _months(acts: acts_mod.Acts) -> np.ndarray:
    return acts.file_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1


def test_influenza_peaks_in_winter(two_seasons: acts_mod.Acts) -> None:
    flu = np.char.startswith(_codes(two_seasons).astype(str), "GRIPPE")
    month = _months(two_seasons)
    years = two_seasons.file_day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    for winter, summer in ((2023, 2022), (2024, 2023)):
        jan = flu[(month <= 2) & (years == winter)].mean()  # January-February of each season
        aug = flu[(month == 8) & (years == summer)].mean()
        assert jan > 5 * aug > 0


def test_bronchiolitis_is_a_disease_of_infants_in_autumn_and_winter(two_seasons: acts_mod.Acts) -> None:
    bronchio = np.char.startswith(_codes(two_seasons).astype(str), "BRONCHIOLITE")
    assert (two_seasons.age[bronchio] < 2).mean() > 0.9
    month = _months(two_seasons)
    season = np.isin(month, [10, 11, 12, 1])
    assert bronchio[season].mean() > 4 * bronchio[~season].mean()


def test_heat_diagnoses_come_in_summer_and_hit_the_elderly(two_seasons: acts_mod.Acts) -> None:
    heat = np.isin(_codes(two_seasons), ["COUP_CHALEUR", "EPUISEMENT_CHALEUR"])
    summer = np.isin(_months(two_seasons), [6, 7, 8])
    assert heat[summer].mean() > 3 * heat[~summer].mean()
    assert (two_seasons.age[heat] >= 65).mean() > 0.5


def test_covid_codes_only_from_2020() -> None:
    acts = _simulate(1, date(2019, 10, 1), date(2020, 6, 30), 0.1)
    covid = np.isin(_codes(acts), ["COVID19", "COVID19_SUSPECT"])
    first_case = acts_mod.day_ordinal(date(2020, 2, 20))
    assert not covid[acts.file_day < first_case].any()
    assert covid[(acts.file_day >= acts_mod.day_ordinal(date(2020, 3, 15)))].mean() > 0.05


def test_nights_weekends_and_holidays_are_busier_than_office_hours(two_seasons: acts_mod.Acts) -> None:
    days = two_seasons.file_day.astype("datetime64[D]")
    dow = (two_seasons.file_day - 4) % 7  # 0 = Monday
    hour = two_seasons.start_abs % 1440 // 60
    holidays = {d for y in (2022, 2023, 2024) for d in acts_mod.timeline.public_holidays(y)}
    holiday = np.isin(days, np.array(sorted(holidays), dtype="datetime64[D]"))
    office = (dow < 5) & ~holiday & (hour >= 8) & (hour < 20)
    n_days = len(np.unique(two_seasons.file_day))
    office_hours = n_days * 5 / 7 * 12
    other_hours = n_days * 24 - office_hours
    assert (~office).sum() / other_hours > 1.3 * office.sum() / office_hours
    sunday = dow == 6
    assert sunday.sum() / (dow == 2).sum() > 1.8


def test_death_certificates_are_mostly_for_the_elderly(two_seasons: acts_mod.Acts) -> None:
    death = two_seasons.cond == profiles().death
    assert (two_seasons.outcome[death] == 4).all() and (two_seasons.outcome[~death] != 4).all()
    assert (two_seasons.age[death] >= 75).mean() > 0.7
    assert (two_seasons.act_type[death] == acts_mod.VAD).all()


def test_yearly_volume_matches_the_association_size() -> None:
    assoc = network()[10]
    acts = _simulate(10, date(2023, 1, 1), date(2023, 12, 31), 0.1)
    assert 0.85 < len(acts) / (assoc.annual_acts * 0.1) < 1.15


def test_children_are_seen_on_a_parents_nir() -> None:
    """As on a carte Vitale: a share of the children carry the NIR of an insured parent of the pool, so
    a NIR alone does not name one patient (the pseudonym keys it with birth date and sex)."""
    pool = build_pool(network()[0], 3, 0.15)
    known = pool.nir_body >= 0
    born = pool.birth.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    holders: dict[int, list[int]] = {}
    for i in np.flatnonzero(known):
        holders.setdefault(int(pool.nir_body[i]), []).append(int(i))
    shared = {nir: people for nir, people in holders.items() if len(people) > 1}
    children = known & (born >= 2005)
    on_parent = sum(1 for people in shared.values() for i in people if children[i])
    assert 0.2 < on_parent / children.sum() < 0.7
    with_children = [(nir, people) for nir, people in shared.items() if any(children[i] for i in people)]
    for nir, people in with_children[:300]:
        # The NIR's sex and year digits are the oldest holder's (the parent), not the children's.
        parent = min(people, key=lambda i: pool.birth[i])
        assert (nir // 10**12 - 1, nir // 10**10 % 100) == (pool.sex[parent], born[parent] % 100)
        assert all(born[i] - born[parent] >= 15 for i in people if i != parent)
