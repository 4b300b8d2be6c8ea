"""Turn simulated acts into the contract's columns: French-formatted strings, one object array per column.

Values are `str` or `None` (empty field). Arrays stay mutable so that invalid records can be injected
before the files are written.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingest.synth import clinical, names, reference
from ingest.synth.acts import (
    ACT_TYPES,
    CALLERS,
    U_NOTE,
    U_NOTE_A,
    U_NOTE_B,
    U_NOTE_C,
    Acts,
    Prescriptions,
    Vitals,
)
from ingest.synth.network import Association, Doctor, postal_code
from ingest.synth.population import BIRTH_FIRST, Pool, format_nir

Columns = dict[str, np.ndarray]
_DATE_FIRST = BIRTH_FIRST - 1
_DATE_LAST = 30_000  # 2052


@cache
def _date_table() -> np.ndarray:
    iso = np.datetime_as_string(np.arange(_DATE_FIRST, _DATE_LAST).astype("datetime64[D]"))
    parts = np.char.partition(np.char.partition(iso, "-")[:, 2], "-")
    years = np.char.partition(iso, "-")[:, 0]
    return np.char.add(
        np.char.add(np.char.add(parts[:, 2], "/"), np.char.add(parts[:, 0], "/")), years
    ).astype(object)


@cache
def _time_table() -> np.ndarray:
    m = np.arange(1440)
    return np.char.add(
        np.char.add(np.char.zfill((m // 60).astype(str), 2), ":"), np.char.zfill((m % 60).astype(str), 2)
    ).astype(object)


def fmt_date(ordinal: np.ndarray) -> np.ndarray:
    return _date_table()[np.asarray(ordinal) - _DATE_FIRST]


def fmt_time(minutes: np.ndarray) -> np.ndarray:
    return _time_table()[np.asarray(minutes) % 1440]


def fmt_int(values: np.ndarray, missing: int = -1) -> np.ndarray:
    out = np.asarray(values).astype(str).astype(object)
    out[np.asarray(values) == missing] = None
    return out


def fmt_decimal(values: np.ndarray, decimals: int = 1) -> np.ndarray:
    """Decimal comma, fixed decimals, trailing ',0' dropped as French software often does."""
    v = np.asarray(values, dtype=float)
    ok = ~np.isnan(v)
    scaled = np.round(np.where(ok, v, 0) * 10**decimals).astype(np.int64)
    whole = (scaled // 10**decimals).astype(str)
    frac = np.char.zfill((scaled % 10**decimals).astype(str), decimals)
    out = np.where(scaled % 10**decimals == 0, whole, np.char.add(np.char.add(whole, ","), frac)).astype(
        object
    )
    out[~ok] = None
    return out


def cat(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise concatenation; None parts count as empty."""
    arrays = [p if isinstance(p, str) else pa.array(p, type=pa.string()) for p in parts]
    joined = pc.binary_join_element_wise(*arrays, "", null_handling="replace", null_replacement="")
    return joined.to_numpy(zero_copy_only=False)


def _pick(options: tuple[str, ...] | list[str], u: np.ndarray) -> np.ndarray:
    arr = np.array(options, dtype=object)
    return arr[np.minimum((u * len(arr)).astype(np.int64), len(arr) - 1)]


def act_ids(acts: Acts, assoc: Association) -> np.ndarray:
    seq = np.char.zfill(acts.seq.astype(str), 5).astype(object)
    day = fmt_date(acts.call_day)
    ymd = cat(_slice_obj(day, 6, 10), _slice_obj(day, 3, 5), _slice_obj(day, 0, 2))
    if assoc.act_id_style == 0:
        return cat(ymd, seq)
    return cat(f"{assoc.code}-", _slice_obj(ymd, 2, 8), seq)


def _slice_obj(a: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return pc.utf8_slice_codeunits(pa.array(a, type=pa.string()), lo, hi).to_numpy(zero_copy_only=False)


_PHONE_AREA = {"11": "01", "24": "02", "28": "02", "52": "02", "53": "02", "27": "03", "32": "03", "44": "03"}
_PHONE_AREA_DEFAULT = {"84": "04", "93": "04", "94": "04", "75": "05", "76": "05"}


def phones(pool: Pool, patients: np.ndarray, region: str) -> np.ndarray:
    kind = pool.phone_kind[patients]
    area = _PHONE_AREA.get(region, _PHONE_AREA_DEFAULT.get(region, "04"))
    prefix = np.array([None, "06", "07", area], dtype=object)[kind]
    d = np.char.zfill(pool.phone_digits[patients].astype(str), 8)
    pairs = [_slice_obj(d.astype(object), i, i + 2) for i in range(0, 8, 2)]
    style = pool.phone_style[patients]
    sep = np.array([" ", ".", ""], dtype=object)[style]
    out = cat(prefix, sep, pairs[0], sep, pairs[1], sep, pairs[2], sep, pairs[3])
    out[kind == 0] = None
    return out


def _names(pool: Pool, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ln = np.array(names.LAST_NAMES, dtype=object)
    last = ln[pool.last_name[p]]
    two = pool.last_name2[p] >= 0
    last[two] = cat(last[two], "-", ln[pool.last_name2[p][two]])
    firsts = np.empty(len(p), dtype=object)
    for sex, table in ((0, names.FIRST_NAMES_M), (1, names.FIRST_NAMES_F)):
        for g, lst in enumerate(table):
            m = (pool.sex[p] == sex) & (pool.generation[p] == g)
            firsts[m] = np.array(lst, dtype=object)[pool.first_name[p][m] % len(lst)]
    return last, firsts


def _postal_codes(communes: np.ndarray, variant: np.ndarray) -> np.ndarray:
    code = reference.communes().code
    out = np.empty(len(communes), dtype=object)
    for c in np.unique(communes):
        m = communes == c
        if code[c] in ("75056", "69123", "13055"):
            table = np.array([postal_code(code[c], v) for v in range(20)], dtype=object)
            out[m] = table[variant[m] % 20]
        else:
            out[m] = postal_code(code[c])
    return out


# (relation to the patient, civility of the caller)
_RELATIONS = (
    ("sa mère", "Mme"), ("son père", "M."), ("sa fille", "Mme"), ("son fils", "M."), ("son épouse", "Mme"),
    ("son mari", "M."), ("la voisine", "Mme"), ("sa sœur", "Mme"),
)  # fmt: skip
_QUOTES = (
    "j'ai mal partout", "il respire mal", "elle ne mange plus depuis hier",
    "ça ne passe pas avec le Doliprane", "il a 40 de fièvre", "elle est toute pâle",
    "je n'arrive plus à me lever",
)  # fmt: skip


def actes(acts: Acts, assoc: Association, pool: Pool, roster: tuple[Doctor, ...], ids: np.ndarray) -> Columns:
    prof = clinical.profiles()
    p = acts.patient
    com = reference.communes()
    last, first = _names(pool, p)
    if assoc.index % 3 == 0:  # some software stores names in capitals (accents kept)
        last = np.char.upper(last.astype(str)).astype(object)
    resident = acts.resident
    eh = pool.ehpad[p]
    ehpad_names = np.array([e[0] for e in assoc.ehpads], dtype=object)
    ehpad_streets = np.array([e[2] for e in assoc.ehpads], dtype=object)
    suffix = np.array(["", " bis", " ter"], dtype=object)[pool.number_suffix[p]]
    compl = np.array(names.ADDRESS_COMPLEMENTS, dtype=object)[pool.complement[p]]
    street = np.array(names.STREET_TYPES_AND_NAMES, dtype=object)[pool.street[p]]
    address = cat(pool.number[p].astype(str).astype(object), suffix, " ", street)
    has_compl = compl != ""
    address[has_compl] = cat(address[has_compl], ", ", compl[has_compl])
    address[resident] = cat(ehpad_names[eh[resident]], ", ", ehpad_streets[eh[resident]])
    commune_idx = pool.commune[p]
    commune_code = com.code[commune_idx]
    postal = _postal_codes(commune_idx, pool.postal_variant[p])
    phone = phones(pool, p, assoc.region)
    u = acts.u
    # Some records lack the address or the commune (typed in a hurry, or a patient passing through).
    no_addr = u[:, U_NOTE_C] < 0.04
    address[no_addr] = None
    postal[no_addr] = None
    commune_out = commune_code.copy()
    commune_out[u[:, U_NOTE_C] < 0.015] = None
    rpps = np.array([d.rpps for d in roster], dtype=object)[acts.doctor]
    start_day = acts.start_abs // 1440
    has_end = acts.end_abs >= 0
    end_day = np.where(has_end, acts.end_abs // 1440, 0)
    date_fin = fmt_date(end_day)
    heure_fin = fmt_time(np.where(has_end, acts.end_abs % 1440, 0))
    date_fin[~has_end] = None
    heure_fin[~has_end] = None
    nir = format_nir(pool.nir_body[p], pool.nir_corsica[p])
    reason_codes = np.array(prof.reason_codes, dtype=object)[acts.reason]
    return {
        "num_acte": ids,
        "type_acte": np.array(ACT_TYPES, dtype=object)[acts.act_type],
        "code_site": np.array([s.code for s in assoc.sites], dtype=object)[acts.site],
        "date_appel": fmt_date(acts.call_day),
        "heure_appel": fmt_time(acts.call_min),
        "date_debut": fmt_date(start_day),
        "heure_debut": fmt_time(acts.start_abs % 1440),
        "date_fin": date_fin,
        "heure_fin": heure_fin,
        "appelant": np.array(CALLERS, dtype=object)[acts.caller],
        "motif_appel": reason_codes,
        "note_appel": _notes(acts, assoc, last, first, address, phone),
        "rpps_medecin": rpps,
        "patient_nom": last,
        "patient_prenom": first,
        "patient_date_naissance": fmt_date(pool.birth[p]),
        "patient_sexe": np.array(["M", "F"], dtype=object)[pool.sex[p]],
        "patient_nir": nir,
        "patient_adresse": address,
        "patient_code_postal": postal,
        "patient_commune_insee": commune_out,
        "patient_telephone": phone,
        "orientation": np.array(clinical.OUTCOMES, dtype=object)[acts.outcome],
    }


def _notes(
    acts: Acts,
    assoc: Association,
    last: np.ndarray,
    first: np.ndarray,
    address: np.ndarray,
    phone: np.ndarray,
) -> np.ndarray:
    """Call-taker's free text: names the caller, repeats an address or a phone number, as real notes do."""
    prof = clinical.profiles()
    u = acts.u
    labels = reference.call_reason_labels()
    reason = np.array([labels[c].lower() for c in prof.reason_codes], dtype=object)[acts.reason]
    days = (u[:, U_NOTE_B] * 4).astype(np.int64)
    since = np.array(["depuis ce soir", "depuis hier", "depuis 2 j", "depuis 3 j"], dtype=object)[days]
    age = acts.age.astype(str).astype(object)
    caller_last = np.where(u[:, U_NOTE_B] < 0.7, last, _pick(names.LAST_NAMES, u[:, U_NOTE_C]))
    phone_txt = np.where(phone == None, "", phone).astype(object)  # noqa: E711 - element-wise test
    rel = np.minimum((u[:, U_NOTE_A] * len(_RELATIONS)).astype(np.int64), len(_RELATIONS) - 1)
    relation = np.array([r[0] for r in _RELATIONS], dtype=object)[rel]
    civ = np.array([r[1] for r in _RELATIONS], dtype=object)[rel]
    quote = _pick(_QUOTES, u[:, U_NOTE_B])
    door = (u[:, U_NOTE_C] * 9000 + 1000).astype(np.int64).astype(str).astype(object)
    nurse = _pick(names.FIRST_NAMES_F[2], u[:, U_NOTE_C])
    templates = [
        np.full(len(acts), None, dtype=object),
        cat("Appel de ", relation, " pour ", first, " ", age, " ans, ", reason, " ", since, ". Rappeler au ",
            phone_txt),
        cat("Appel de ", civ, " ", caller_last, " (", relation, ") : ", reason, " ; adresse ", address),
        cat("Pt connu. Dit \"", quote, "\" ; ", reason, ". Tel ", phone_txt),
        cat(reason, " ", since, " ; ", first, " ", last, " ; code porte ", door),
        cat("Transfert C15 : ", reason, ", patient ", last, " ", first, ", ", age, " ans"),
        cat("EHPAD, IDE ", nurse, " au ", phone_txt, " : ", reason, " (", first, " ", last, ")"),
        cat("Décès constaté par ", relation, " ; ", civ, " ", last, " ", first, ", ", age, " ans, ", address),
    ]  # fmt: skip
    kind = np.minimum((u[:, U_NOTE] * 5).astype(np.int64), 4)  # 0 (no note) to 4
    kind = np.where(acts.caller == CALLERS.index("C15"), 5, kind)
    kind = np.where(acts.caller == CALLERS.index("EHPAD"), 6, kind)
    kind = np.where(acts.cond == prof.death, 7, kind)
    kind = np.where(u[:, U_NOTE] < 0.2, 0, kind)
    out = np.empty(len(acts), dtype=object)
    for k, t in enumerate(templates):
        m = kind == k
        out[m] = t[m]
    return out


def diagnostics(acts: Acts, assoc: Association, ids: np.ndarray) -> tuple[Columns, np.ndarray]:
    """Diagnosis rows and the act index of each row."""
    prof = clinical.profiles()
    coded = acts.coded
    a1 = np.flatnonzero(coded)
    a2 = np.flatnonzero(coded & (acts.n_assoc >= 1))
    a3 = np.flatnonzero(coded & (acts.n_assoc >= 2))
    act = np.concatenate([a1, a2, a3])
    rank = np.concatenate([np.full(len(a1), 1), np.full(len(a2), 2), np.full(len(a3), 3)])
    cond = np.concatenate([acts.cond[a1], acts.assoc[a2, 0], acts.assoc[a3, 1]])
    order = np.lexsort((rank, act))
    act, rank, cond = act[order], rank[order], cond[order]
    from ingest.synth.acts import U_ICD1

    u = acts.u[act, U_ICD1 + rank - 1]
    icd = np.array(prof.icd10, dtype=object)[cond]
    dotted = np.array([c[:3] + "." + c[3:] if len(c) > 3 else c for c in prof.icd10], dtype=object)[cond]
    use_dot = np.full(len(act), assoc.icd_style == 1) | ((assoc.icd_style == 2) & (u < 0.5))
    icd = np.where(use_dot, dotted, icd)
    icd[(u * 7919) % 1.0 < assoc.icd_missing] = None
    return {
        "num_acte": ids[act],
        "rang": rank.astype(str).astype(object),
        "code_thesaurus": np.array(prof.codes, dtype=object)[cond],
        "code_cim10": icd,
    }, act


def prescriptions(rx: Prescriptions, acts: Acts, ids: np.ndarray) -> tuple[Columns, np.ndarray]:
    prof = clinical.profiles()
    drugs = reference.drugs()
    table = [drugs[c] if c else None for c in prof.drug_codes]
    cip = np.array([d.cip13 if d else None for d in table], dtype=object)[rx.drug]
    atc = np.array([(d.atc_code or None) if d else None for d in table], dtype=object)[rx.drug]
    label = np.array([d.label if d else None for d in table], dtype=object)[rx.drug]
    dose_value = np.array([d.dose_value if d else np.nan for d in table])[rx.drug]
    kg = np.round(acts.weight[rx.act]).clip(2, 50)
    dose = np.where(rx.dose_by_weight, kg, dose_value)
    unit = np.array([d.dose_unit if d else None for d in table], dtype=object)[rx.drug]
    intakes = np.array([d.intakes_per_day if d else 0 for d in table])[rx.drug]
    duration = np.array([d.duration_days if d else 0 for d in table])[rx.drug]
    dose_txt = fmt_decimal(dose, 2)
    unit_word = np.where(rx.dose_by_weight, "dose-poids", unit).astype(object)
    poso = cat(dose_txt, " ", unit_word, " ", intakes.astype(str).astype(object), " fois par jour pendant ",
               duration.astype(str).astype(object), " jours")  # fmt: skip
    poso[rx.u_poso < 0.4] = None
    no_dose = rx.u_poso > 0.95  # some lines carry the label only
    dose_txt[no_dose] = None
    unit_out = unit.copy()
    unit_out[no_dose] = None
    cip_out = np.where(rx.code_form == 1, None, cip).astype(object)
    atc_out = np.where(rx.code_form == 2, None, atc).astype(object)
    return {
        "num_acte": ids[rx.act],
        "ligne": rx.line.astype(str).astype(object),
        "code_cip13": cip_out,
        "code_atc": atc_out,
        "libelle": label,
        "dose_valeur": dose_txt,
        "dose_unite": unit_out,
        "prises_par_jour": np.where(no_dose, None, intakes.astype(str)).astype(object),
        "duree_jours": np.where(no_dose, None, duration.astype(str)).astype(object),
        "posologie": poso,
        "_cip13_full": cip,
    }, rx.act


def constantes(v: Vitals, ids: np.ndarray) -> tuple[Columns, np.ndarray]:
    return {
        "num_acte": ids[v.act],
        "date_mesure": fmt_date(v.measured_abs // 1440),
        "heure_mesure": fmt_time(v.measured_abs % 1440),
        "temperature": fmt_decimal(v.temperature, 1),
        "fc": fmt_int(v.hr),
        "spo2": fmt_int(v.spo2),
        "pas": fmt_int(v.sbp),
        "pad": fmt_int(v.dbp),
        "fr": fmt_int(v.rr),
        "poids": fmt_decimal(v.weight, 1),
    }, v.act


class Roster:
    """The roster's columns for every doctor ever on it; `snapshot(day)` is the file of that day."""

    def __init__(self, roster: tuple[Doctor, ...]) -> None:
        self.joined = np.array([d.joined for d in roster], dtype=np.int64)
        self.left = np.array([d.left for d in roster], dtype=np.int64)
        entree = fmt_date(self.joined)
        entree[~np.array([d.show_joined for d in roster], dtype=bool)] = None
        self.columns: Columns = {
            "rpps": np.array([d.rpps for d in roster], dtype=object),
            "nom": np.array([d.last_name for d in roster], dtype=object),
            "prenom": np.array([d.first_name for d in roster], dtype=object),
            "sexe": np.array([d.sex for d in roster], dtype=object),
            "specialite": np.array([d.specialty for d in roster], dtype=object),
            "date_entree": entree,
            "date_sortie": fmt_date(np.minimum(self.left, _DATE_LAST - 1)),
        }

    def snapshot(self, day: int) -> Columns:
        """Doctors who had joined by `day`, and those who left within the last year (with that date)."""
        return self.period_snapshot(day, day)

    def period_snapshot(self, first: int, last: int) -> Columns:
        """Every doctor of a daily snapshot of any day in [first, last], as known on `last` (a doctor who
        left during the period has the date)."""
        keep = (self.joined <= last) & (self.left > first - 365)
        cols = {k: v[keep].copy() for k, v in self.columns.items()}
        cols["date_sortie"][self.left[keep] > last] = None
        return cols


def structures(assoc: Association) -> Columns:
    return {
        "code_site": np.array([s.code for s in assoc.sites], dtype=object),
        "type_site": np.array([s.type for s in assoc.sites], dtype=object),
        "nom_site": np.array([s.name for s in assoc.sites], dtype=object),
        "commune_insee": np.array([s.commune_code for s in assoc.sites], dtype=object),
        "code_postal": np.array([s.postal_code for s in assoc.sites], dtype=object),
    }
