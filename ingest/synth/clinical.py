# ruff: noqa: E501 - the profile table keeps one diagnosis per line, which is what a reviewer compares.
"""Clinical profiles of the network's diagnoses: who gets them, when, why they call, what is done.

One row per thesaurus code (the codes, labels and CIM-10 codes themselves are in
`seeds/network/diagnosis_thesaurus.csv`). The numbers are plausible orders of magnitude for a French
out-of-hours GP service, set by hand; they are not estimates from real data.

Columns of `_PROFILES` (separated by '|'):
  code       thesaurus code
  process    seasonal process driving its incidence (see `epidemics.PROCESSES`)
  weight     share of the daily volume when the process is at 1 (background codes sum to about 1)
  rr         relative rate by age band 0-1, 2-4, 5-14, 15-44, 45-64, 65-79, 80+ (on top of the general
             out-of-hours use by age)
  female     odds multiplier for a female patient (1 = as in the population)
  reasons    call reasons with weights
  drugs      prescription slots `ADULT/CHILD:probability` (drug codes of seeds/network/drugs.csv, '-' for
             none); the child form applies under 12 years
  vitals     vital-sign profile (see `VITALS`)
  outcome    percentages DOM MT URG HOSP before the age adjustment
  assoc      three usual associated diagnoses (ranks 2-3)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from ingest.synth import reference

AGE_BANDS = np.array([0, 2, 5, 15, 45, 65, 80, reference.MAX_AGE + 1])
N_BANDS = len(AGE_BANDS) - 1

# General out-of-hours GP use by single year of age, relative to a young adult: infants and the very old
# call far more often (parents at night, dependent elderly at home).
_USE_KNOTS_AGE = np.array([0, 1, 2, 5, 10, 15, 25, 45, 65, 75, 85, 95, 104])
_USE_KNOTS_RATE = np.array([5.0, 4.0, 2.6, 1.5, 0.9, 0.8, 0.9, 0.75, 0.8, 1.3, 2.6, 3.8, 4.0])
USE_RATE_BY_AGE = np.interp(np.arange(reference.MAX_AGE + 1), _USE_KNOTS_AGE, _USE_KNOTS_RATE)

_PROFILES = """
GRIPPE|influenza|0.10|0.6 1.3 2 1.8 1.4 1 0.8|1|FIEVRE:6 TOUX:3 CEPHALEE:1|PARA1000/PARASUSP:.9 IBU400/IBUSUSP:.12 OSELT75/-:.05|fever_high|84 12 3 1|FIEVRE_ISOLEE DESHYDRATATION BRONCHITE
GRIPPE_CONFIRMEE|influenza|0.01|0.6 1.3 2 1.5 1.4 1.3 1.2|1|FIEVRE:7 TOUX:3|PARA1000/PARASUSP:.9 OSELT75/-:.3|fever_high|82 12 4 2|FIEVRE_ISOLEE PNEUMOPATHIE DESHYDRATATION
GRIPPE_DIGESTIVE|influenza|0.01|0.6 1.5 2 1.5 1.2 1 0.8|1|FIEVRE:5 VOMISSEMENTS:3 DIARRHEE:2|PARA1000/PARASUSP:.9 DIOSM/SRO:.4|fever_high|86 10 3 1|DESHYDRATATION VOMISSEMENTS FIEVRE_ISOLEE
BRONCHIOLITE|bronchiolitis|0.05|40 0.6 0 0 0 0 0|0.8|TOUX:5 DYSPNEE:5 FIEVRE:2|-/PARASUSP:.5|bronchiolitis|72 12 12 4|FIEVRE_ISOLEE RHINOPHARYNGITE OTITE
BRONCHIOLITE_VRS|bronchiolitis|0.008|40 0.4 0 0 0 0 0|0.8|DYSPNEE:6 TOUX:4|-/PARASUSP:.5|bronchiolitis|55 10 22 13|FIEVRE_ISOLEE RHINOPHARYNGITE OTITE
GEA|gea|0.10|1.6 2.5 1.5 1 0.7 0.7 1|1|VOMISSEMENTS:5 DIARRHEE:5 DOULEUR_ABDO:2 FIEVRE:1|-/SRO:.85 RACEC100/RACEC30:.4 DIOSM/-:.3 PHLORO80/-:.3 ONDANS4/-:.1|gea|93 4 2 1|DESHYDRATATION FIEVRE_ISOLEE VOMISSEMENTS
GEA_VIRALE|gea|0.03|1.6 2.5 1.5 1 0.7 0.7 1|1|DIARRHEE:5 VOMISSEMENTS:5|-/SRO:.85 RACEC100/RACEC30:.4 DIOSM/-:.3|gea|94 4 1.5 0.5|DESHYDRATATION FIEVRE_ISOLEE DOULEUR_ABDO
GEA_ROTAVIRUS|gea|0.006|4 3 0.3 0 0 0 0|1|DIARRHEE:5 VOMISSEMENTS:5 FIEVRE:2|-/SRO:.95 -/RACEC30:.4|gea|85 5 7 3|DESHYDRATATION FIEVRE_ISOLEE VOMISSEMENTS
COVID19|covid|0.12|0.3 0.4 0.5 1 1.2 1.5 1.8|1|FIEVRE:5 TOUX:4 DYSPNEE:2 CEPHALEE:1|PARA1000/PARASUSP:.9|covid|80 10 6 4|PNEUMOPATHIE FIEVRE_ISOLEE ASTHENIE
COVID19_SUSPECT|covid|0.03|0.3 0.4 0.6 1.2 1.2 1.2 1.2|1|FIEVRE:5 TOUX:5|PARA1000/PARASUSP:.9|covid|88 9 2 1|FIEVRE_ISOLEE BRONCHITE ASTHENIE
ASTHME|pollen|0.025|0.2 1.2 2 1.3 0.9 0.7 0.5|1|DYSPNEE:8 TOUX:2|SALBU/SALBU:.9 PREDNISO20/BETAM:.6|asthma|85 8 5 2|RHINITE_ALLERGIQUE BRONCHITE ANXIETE
ASTHME_ALLERGIQUE|pollen|0.008|0 1 2 1.5 0.8 0.5 0.3|1|DYSPNEE:7 ALLERGIE:3|SALBU/SALBU:.9 PREDNISO20/BETAM:.5 DESLO5/-:.4|asthma|88 8 3 1|RHINITE_ALLERGIQUE CONJONCTIVITE_ALLERGIQUE URTICAIRE
ASTHME_AIGU_GRAVE|pollen|0.0015|0 1 1.5 1.3 1 0.8 0.5|1|DYSPNEE:10|SALBU/SALBU:.95 PREDNISO20/BETAM:.9|asthma_severe|15 5 45 35|RHINITE_ALLERGIQUE ANXIETE BRONCHITE
COUP_CHALEUR|heat|0.02|0.6 0.6 0.5 0.6 0.8 2.2 6|1|MALAISE:5 FIEVRE:3 CEPHALEE:1 AUTRE:1|PARA1000/PARASUSP:.2|heat|62 8 18 12|DESHYDRATATION HYPONATREMIE MALAISE
EPUISEMENT_CHALEUR|heat|0.01|0.5 0.5 0.4 0.6 0.9 2.5 6|1.2|MALAISE:6 AUTRE:4|-/SRO:.5|heat|70 10 13 7|DESHYDRATATION MALAISE ASTHENIE
DESHYDRATATION|heat|0.012|2 1.2 0.3 0.2 0.4 2 8|1.2|MALAISE:4 AUTRE:3 VOMISSEMENTS:2 DIARRHEE:1|-/SRO:.8|dehydration|66 10 14 10|HYPONATREMIE ASTHENIE MALAISE
HYPONATREMIE|heat|0.003|0 0 0 0.1 0.4 2.5 9|1.5|MALAISE:6 CHUTE:2 AUTRE:2||normal|50 10 25 15|DESHYDRATATION ASTHENIE CHUTES_REPETEES
MALAISE|steady|0.022|0.2 0.2 0.4 0.8 1 1.8 3|1.2|MALAISE:8 CHUTE:2||normal|72 12 12 4|VERTIGES POUSSEE_HTA HYPOGLYCEMIE
PNEUMOPATHIE|winter|0.014|0.8 1 0.5 0.4 0.9 2.5 4.5|0.9|FIEVRE:4 TOUX:4 DYSPNEE:3|AMOX1G/AMOXSUSP:.85 PARA1000/PARASUSP:.7|pneumonia|66 10 14 10|FIEVRE_ISOLEE DESHYDRATATION INSUFFISANCE_CARDIAQUE
PNEUMOPATHIE_BACT|winter|0.004|0.5 0.8 0.5 0.4 0.9 2.5 4.5|0.9|FIEVRE:5 DYSPNEE:3 TOUX:2|AMOXCLAV/AMOXCLAVSUSP:.8 PARA1000/PARASUSP:.7 CEFTRIAX/-:.1|pneumonia|55 10 20 15|FIEVRE_ISOLEE INSUFFISANCE_CARDIAQUE DESHYDRATATION
VARICELLE|varicella|0.008|2 6 3 0.3 0.05 0.02 0.02|1|ERUPTION:8 FIEVRE:2|PARA1000/PARASUSP:.8|fever_mod|96 4 0 0|FIEVRE_ISOLEE IMPETIGO CONJONCTIVITE
ROUGEOLE|varicella|0.0006|2 2 1.5 1 0.2 0.05 0.05|1|ERUPTION:6 FIEVRE:4|PARA1000/PARASUSP:.9|fever_high|80 10 8 2|FIEVRE_ISOLEE CONJONCTIVITE OTITE
COQUELUCHE|steady|0.0012|6 2 1 0.8 0.5 0.4 0.4|1|TOUX:9 DYSPNEE:1|AZITH250/AZITH250:.9|normal|85 8 5 2|RHINOPHARYNGITE BRONCHITE FIEVRE_ISOLEE
FIEVRE_ISOLEE|winter|0.03|6 4 1.5 0.4 0.3 0.5 0.9|1|FIEVRE:9 AUTRE:1|PARA1000/PARASUSP:.9 IBU400/IBUSUSP:.2|fever_high|90 8 2 0|RHINOPHARYNGITE INFECTION_VIRALE OTITE
RHINOPHARYNGITE|winter|0.07|4 3 1.5 0.6 0.4 0.4 0.4|1|FIEVRE:5 TOUX:3 AUTRE:1|PARA1000/PARASUSP:.85|fever_mod|93 7 0 0|OTITE CONJONCTIVITE FIEVRE_ISOLEE
ANGINE|winter|0.045|0.3 1.5 2 1.3 0.6 0.3 0.2|1|MAL_GORGE:6 FIEVRE:3|PARA1000/PARASUSP:.85 AMOX1G/AMOXSUSP:.25|fever_mod|94 6 0 0|FIEVRE_ISOLEE RHINOPHARYNGITE OTITE
ANGINE_STREPTO|winter|0.015|0.1 1.5 3 1 0.4 0.2 0.1|1|MAL_GORGE:6 FIEVRE:4|AMOX1G/AMOXSUSP:.95 PARA1000/PARASUSP:.7|fever_high|95 5 0 0|FIEVRE_ISOLEE SCARLATINE RHINOPHARYNGITE
OTITE|winter|0.05|5 4 1.5 0.3 0.2 0.15 0.1|1|MAL_OREILLE:6 FIEVRE:4|PARA1000/PARASUSP:.8 AMOX1G/AMOXSUSP:.5 IBU400/IBUSUSP:.2|fever_mod|95 5 0 0|RHINOPHARYNGITE FIEVRE_ISOLEE CONJONCTIVITE
OTITE_PURULENTE|winter|0.015|6 4 1 0.2 0.1 0.1 0.1|1|MAL_OREILLE:6 FIEVRE:4|AMOX1G/AMOXSUSP:.9 PARA1000/PARASUSP:.8|fever_high|94 6 0 0|RHINOPHARYNGITE FIEVRE_ISOLEE CONJONCTIVITE
SINUSITE|winter|0.015|0 0.1 0.5 1.5 1.5 0.8 0.5|1.3|CEPHALEE:5 FIEVRE:2 AUTRE:1|AMOX1G/-:.6 PARA1000/-:.8 CEFPO100/-:.1|fever_mod|95 5 0 0|RHINOPHARYNGITE CEPHALEE FIEVRE_ISOLEE
LARYNGITE|winter|0.012|3 5 1.5 0.1 0.05 0.05 0.05|0.8|DYSPNEE:5 TOUX:5|PREDNISO20/BETAM:.8 -/BUDENEB:.15|resp_mild|90 5 4 1|RHINOPHARYNGITE FIEVRE_ISOLEE ANXIETE
BRONCHITE|winter|0.04|1 1 0.8 0.8 1.1 1.5 1.6|1|TOUX:7 FIEVRE:3|PARA1000/PARASUSP:.7 AMOX1G/AMOXSUSP:.15|fever_mod|90 8 1.5 0.5|RHINOPHARYNGITE FIEVRE_ISOLEE ASTHME
BPCO_EXACERBATION|winter|0.006|0 0 0 0.05 1 3 3|0.8|DYSPNEE:7 TOUX:3|AMOXCLAV/-:.6 PREDNISO20/-:.4 SALBU/-:.5|resp_low|60 10 20 10|PNEUMOPATHIE INSUFFISANCE_CARDIAQUE ANXIETE
INFECTION_VIRALE|winter|0.02|3 3 1.5 0.8 0.6 0.6 0.6|1|FIEVRE:6 AUTRE:2 CEPHALEE:1|PARA1000/PARASUSP:.85|fever_mod|94 6 0 0|FIEVRE_ISOLEE RHINOPHARYNGITE CEPHALEE
CONJONCTIVITE|winter|0.01|3 3 1.5 0.8 0.6 0.6 0.6|1|AUTRE:10|AZICOL/AZICOL:.6|none|97 3 0 0|RHINOPHARYNGITE OTITE FIEVRE_ISOLEE
SCARLATINE|winter|0.003|0.2 3 3 0.2 0.05 0.02 0.02|1|ERUPTION:5 FIEVRE:3 MAL_GORGE:2|AMOX1G/AMOXSUSP:.95 PARA1000/PARASUSP:.7|fever_high|96 4 0 0|ANGINE_STREPTO FIEVRE_ISOLEE RHINOPHARYNGITE
SYNDROME_PIED_MAIN_BOUCHE|summer|0.004|6 5 0.8 0.05 0 0 0|1|ERUPTION:6 FIEVRE:4|-/PARASUSP:.8|fever_mod|97 3 0 0|FIEVRE_ISOLEE RHINOPHARYNGITE OTITE
INTOX_CO|winter|0.0008|1 1 1 1 1 1 1|1|CEPHALEE:5 MALAISE:5||normal|10 5 45 40|CEPHALEE MALAISE VOMISSEMENTS
RHINITE_ALLERGIQUE|pollen|0.02|0 0.3 1.5 1.8 1 0.5 0.3|1|ALLERGIE:6 TOUX:2 AUTRE:2|DESLO5/-:.7 CETIRI10/-:.3 TRIAMNAS/-:.3|none|97 3 0 0|CONJONCTIVITE_ALLERGIQUE ASTHME_ALLERGIQUE CEPHALEE
CONJONCTIVITE_ALLERGIQUE|pollen|0.008|0 0.3 1.5 1.8 1 0.5 0.3|1.2|ALLERGIE:6 AUTRE:4|CROMOCOL/CROMOCOL:.8 DESLO5/-:.4|none|98 2 0 0|RHINITE_ALLERGIQUE ASTHME_ALLERGIQUE URTICAIRE
URTICAIRE|summer|0.008|1 1.5 1.2 1.2 1 0.6 0.4|1.3|ERUPTION:6 ALLERGIE:4|DESLO5/-:.6 DEXCHLOR2/-:.3 PREDNISO20/BETAM:.3|none|95 4 1 0|ALLERGIE PIQURE_INSECTE ANXIETE
OEDEME_QUINCKE|steady|0.0012|0.5 1 1 1.2 1 0.8 0.5|1.2|ALLERGIE:8 DYSPNEE:2|PREDNISO20/BETAM:.9 DESLO5/-:.7 ADRENA/-:.2|allergy|40 10 35 15|URTICAIRE ALLERGIE ANXIETE
ALLERGIE|summer|0.004|0.5 1 1.2 1.2 1 0.6 0.4|1.2|ALLERGIE:9 ERUPTION:1|DESLO5/-:.6 CETIRI10/-:.3|none|95 5 0 0|URTICAIRE PIQURE_INSECTE ANXIETE
DOULEUR_ABDO|steady|0.04|0.8 2 1.5 1 0.8 1 1.2|1.3|DOULEUR_ABDO:8 VOMISSEMENTS:2|PHLORO80/-:.6 PARA1000/PARASUSP:.4|normal|82 8 9 1|VOMISSEMENTS GEA ANXIETE
APPENDICITE_SUSPECTEE|steady|0.004|0 0.5 2 1.5 0.6 0.4 0.3|0.9|DOULEUR_ABDO:9 FIEVRE:1||fever_mod|5 3 85 7|DOULEUR_ABDO FIEVRE_ISOLEE VOMISSEMENTS
COLIQUE_NEPHRETIQUE|summer|0.01|0 0 0.1 1.3 1.6 1 0.5|0.6|DOULEUR_DOS:5 DOULEUR_ABDO:5|KETO100/-:.8 PARACOD/-:.5 PHLORO80/-:.4|pain|80 10 9 1|INFECTION_URINAIRE VOMISSEMENTS DOULEUR_ABDO
VOMISSEMENTS|winter|0.01|1.5 2 1.5 1 0.8 0.8 1|1.2|VOMISSEMENTS:10|ONDANS4/-:.3 METOCLO10/-:.2 -/SRO:.6|gea|92 5 2 1|GEA DESHYDRATATION DOULEUR_ABDO
CYSTITE|steady|0.025|0 0.2 0.5 1.5 1 1 1|25|BRULURES_URINAIRES:9 DOULEUR_ABDO:1|FOSFO3G/-:.85 PARA1000/-:.2|none|94 6 0 0|INFECTION_URINAIRE FIEVRE_ISOLEE DOULEUR_ABDO
PYELONEPHRITE|steady|0.005|0.5 0.5 0.5 1.3 1 1.2 1.5|5|FIEVRE:5 DOULEUR_DOS:3 BRULURES_URINAIRES:2|CIPRO500/-:.7 CEFTRIAX/-:.2 PARA1000/-:.6|fever_high|72 8 14 6|CYSTITE FIEVRE_ISOLEE VOMISSEMENTS
INFECTION_URINAIRE|steady|0.012|0.6 0.5 0.5 0.8 0.8 2 4|2.5|BRULURES_URINAIRES:5 FIEVRE:3 AUTRE:2|FOSFO3G/-:.4 CIPRO500/-:.3 AMOXCLAV/AMOXCLAVSUSP:.2|fever_mod|84 8 5 3|CYSTITE FIEVRE_ISOLEE DESHYDRATATION
LOMBALGIE|steady|0.035|0 0 0.1 1.3 1.5 1 0.7|1|DOULEUR_DOS:10|IBU400/-:.5 PARA1000/-:.6 THIOCOL/-:.4 PARACOD/-:.2|pain|93 7 0 0|ANXIETE CONTUSION DOULEUR_ABDO
ENTORSE_CHEVILLE|summer|0.01|0 0.3 2 2 0.8 0.3 0.2|0.9|TRAUMA:9 AUTRE:1|PARA1000/PARASUSP:.7 DICLOGEL/-:.4|pain|85 5 10 0|CONTUSION FRACTURE_SUSPECTEE PLAIE_TETE
PLAIE_TETE|summer|0.008|0.5 3 1.5 0.8 0.6 1.5 3|0.8|TRAUMA:6 CHUTE:4|PARA1000/PARASUSP:.5|normal|80 5 15 0|CONTUSION COMMOTION CHUTES_REPETEES
CONTUSION|summer|0.015|0.5 2 1.5 1 0.8 1.5 3|1|TRAUMA:5 CHUTE:5|PARA1000/PARASUSP:.7 DICLOGEL/-:.3|pain|88 6 6 0|PLAIE_TETE CHUTES_REPETEES ENTORSE_CHEVILLE
FRACTURE_SUSPECTEE|summer|0.006|0.3 1 1.5 0.8 0.8 1.8 4|1.3|TRAUMA:5 CHUTE:5|PARA1000/PARASUSP:.6 TRAMA50/-:.2|pain|5 2 85 8|CONTUSION CHUTES_REPETEES PLAIE_TETE
COMMOTION|summer|0.003|1 2 1.5 1 0.6 1 2|0.8|TRAUMA:5 CHUTE:4 CEPHALEE:1|PARA1000/PARASUSP:.6|normal|55 5 38 2|PLAIE_TETE CONTUSION VOMISSEMENTS
CHUTES_REPETEES|steady|0.008|0 0 0 0 0.1 1.5 8|1.4|CHUTE:10||normal|70 15 12 3|CONTUSION ASTHENIE PLAIE_TETE
BRULURE|summer|0.003|2 2 0.8 1 0.8 0.6 0.6|1|TRAUMA:9 AUTRE:1|PARA1000/PARASUSP:.6|pain|88 5 6 1|PLAIE_TETE ANXIETE CONTUSION
PIQURE_INSECTE|summer|0.004|0.6 1.5 1.5 1 1 0.8 0.6|1|ALLERGIE:6 ERUPTION:3 TRAUMA:1|DESLO5/-:.6 DEXCHLOR2/-:.2|none|96 3 1 0|URTICAIRE ALLERGIE ANXIETE
ANXIETE|steady|0.03|0 0 0.2 1.8 1.2 0.8 0.7|1.6|ANGOISSE:8 DOULEUR_THORAX:1 MALAISE:1|HYDROX25/-:.5 ALPRA025/-:.2|anxiety|92 7 1 0|ATTAQUE_PANIQUE IVRESSE DOULEUR_THORAX
ATTAQUE_PANIQUE|steady|0.01|0 0 0.1 2 1.2 0.5 0.3|1.7|ANGOISSE:7 DOULEUR_THORAX:2 DYSPNEE:1|HYDROX25/-:.6 ALPRA025/-:.3|anxiety|93 6 1 0|ANXIETE DOULEUR_THORAX IVRESSE
IVRESSE|steady|0.004|0 0 0.1 2.5 1.2 0.4 0.1|0.3|ANGOISSE:4 MALAISE:3 TRAUMA:3||normal|70 5 25 0|ANXIETE CONTUSION PLAIE_TETE
DOULEUR_THORAX|steady|0.02|0 0 0.2 0.8 1.5 1.8 1.8|0.8|DOULEUR_THORAX:9 MALAISE:1|PARA1000/-:.3|cardio|60 12 25 3|ANXIETE POUSSEE_HTA ANGOR
ANGOR|steady|0.004|0 0 0 0.1 1.5 2.5 2.5|0.6|DOULEUR_THORAX:10|TRINIT/-:.5|cardio|15 5 50 30|POUSSEE_HTA DOULEUR_THORAX ANXIETE
POUSSEE_HTA|steady|0.01|0 0 0 0.3 1.5 2.2 2.5|1.1|CEPHALEE:4 MALAISE:4 AUTRE:2||cardio|88 10 2 0|CEPHALEE VERTIGES ANXIETE
INSUFFISANCE_CARDIAQUE|winter|0.006|0 0 0 0 0.5 2.5 6|1|DYSPNEE:9 TOUX:1|FUROS40/-:.8|resp_low|45 10 25 20|PNEUMOPATHIE POUSSEE_HTA ASTHENIE
CEPHALEE|steady|0.015|0 0.2 1 1.5 1 0.7 0.5|1.5|CEPHALEE:10|PARA1000/PARASUSP:.7 IBU400/IBUSUSP:.3|normal|93 6 1 0|MIGRAINE POUSSEE_HTA ANXIETE
MIGRAINE|steady|0.01|0 0 0.8 2 1.2 0.4 0.1|2.5|CEPHALEE:9 VOMISSEMENTS:1|SUMA50/-:.4 IBU400/IBUSUSP:.5 METOCLO10/-:.3|normal|96 4 0 0|CEPHALEE VOMISSEMENTS ANXIETE
VERTIGES|steady|0.01|0 0 0.2 0.8 1.2 1.8 2|1.4|MALAISE:6 AUTRE:4|METOCLO10/-:.3|normal|90 8 2 0|MALAISE POUSSEE_HTA VOMISSEMENTS
AVC_SUSPECTE|steady|0.003|0 0 0 0.1 1 2.5 4|1|MALAISE:6 AUTRE:4||cardio|2 1 60 37|POUSSEE_HTA MALAISE CHUTES_REPETEES
CONVULSION_FEBRILE|winter|0.004|12 4 0.2 0 0 0 0|0.8|FIEVRE:5 MALAISE:5|-/PARASUPPO:.9|fever_high|60 5 25 10|FIEVRE_ISOLEE RHINOPHARYNGITE OTITE
ASTHENIE|steady|0.01|0 0 0.1 0.5 0.8 2 5|1.2|AUTRE:6 MALAISE:4||normal|70 15 10 5|DESHYDRATATION CHUTES_REPETEES INFECTION_URINAIRE
ERUPTION|summer|0.01|3 3 2 0.8 0.6 0.5 0.5|1|ERUPTION:10|DESLO5/-:.3|none|97 3 0 0|FIEVRE_ISOLEE URTICAIRE INFECTION_VIRALE
ZONA|steady|0.005|0 0 0.1 0.5 1.2 2 2.5|1.2|ERUPTION:6 DOULEUR_THORAX:2 DOULEUR_DOS:2|VALACI500/-:.8 PARA1000/-:.6|none|96 4 0 0|ASTHENIE ANXIETE ERUPTION
ERYSIPELE|summer|0.004|0 0 0.1 0.4 1.2 2 3|1|ERUPTION:5 FIEVRE:5|AMOX1G/-:.9 PARA1000/-:.6|fever_high|80 8 8 4|FIEVRE_ISOLEE INSUFFISANCE_CARDIAQUE ASTHENIE
IMPETIGO|summer|0.004|2 4 3 0.3 0.1 0.1 0.1|1|ERUPTION:10|FUCIDCR/FUCIDCR:.8|none|98 2 0 0|VARICELLE ERUPTION RHINOPHARYNGITE
HYPOGLYCEMIE|steady|0.002|0 0 0.2 0.7 1.2 2 2|1|MALAISE:9 AUTRE:1||normal|75 10 10 5|MALAISE ASTHENIE CHUTES_REPETEES
CERTIFICAT|steady|0.006|0 0 0.5 1.5 1 1 1|1|AUTRE:10||none|100 0 0 0|ANXIETE CONTUSION ASTHENIE
RENOUVELLEMENT_ORDONNANCE|steady|0.006|0 0 0.1 0.8 1.2 1.8 2|1.1|AUTRE:10||none|90 10 0 0|POUSSEE_HTA ANXIETE ASTHENIE
CONSTAT_DECES|deaths|0.012|0.02 0.005 0.005 0.04 0.35 1.6 9|1|CONSTAT_DECES:10||none|0 0 0 0|ASTHENIE INSUFFISANCE_CARDIAQUE CHUTES_REPETEES
"""

# Vital-sign profiles: temperature mean and sd (°C), SpO2 drop (points), heart-rate and respiratory-rate
# excess over the age norm, systolic excess (mmHg), probability that vitals are taken at all.
VITALS: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "none": (36.8, 0.3, 0.0, 0.0, 0.0, 0.0, 0.45),
    "normal": (36.8, 0.3, 0.0, 0.0, 0.0, 0.0, 0.8),
    "pain": (36.9, 0.3, 0.0, 8.0, 1.0, 8.0, 0.75),
    "fever_mod": (38.2, 0.5, 0.5, 10.0, 2.0, 0.0, 0.85),
    "fever_high": (39.0, 0.5, 1.0, 18.0, 3.0, -5.0, 0.9),
    "resp_mild": (37.9, 0.6, 1.5, 10.0, 5.0, 0.0, 0.9),
    "bronchiolitis": (38.0, 0.6, 5.0, 20.0, 18.0, 0.0, 0.95),
    "pneumonia": (38.8, 0.6, 4.0, 18.0, 6.0, -5.0, 0.95),
    "resp_low": (37.1, 0.5, 5.5, 20.0, 8.0, 10.0, 0.95),
    "asthma": (37.0, 0.3, 3.5, 20.0, 8.0, 5.0, 0.9),
    "asthma_severe": (37.0, 0.3, 8.0, 35.0, 14.0, 10.0, 0.95),
    "covid": (38.4, 0.7, 3.0, 14.0, 4.0, 0.0, 0.85),
    "gea": (37.6, 0.6, 0.0, 15.0, 1.0, -8.0, 0.85),
    "dehydration": (37.4, 0.7, 0.5, 22.0, 2.0, -15.0, 0.9),
    "heat": (39.4, 0.9, 2.0, 25.0, 4.0, -15.0, 0.95),
    "cardio": (36.8, 0.3, 1.0, 10.0, 2.0, 20.0, 0.95),
    "anxiety": (36.8, 0.3, 0.0, 20.0, 4.0, 15.0, 0.8),
    "allergy": (36.9, 0.3, 2.0, 20.0, 4.0, -10.0, 0.95),
}
VITALS_KEYS = tuple(VITALS)
OUTCOMES = ("DOM", "MT", "URG", "HOSP", "DC")
CHILD_AGE = 12  # below it the child form of a drug is prescribed


@dataclass(frozen=True)
class Profiles:
    """The profile table as arrays indexed by condition (the row order of the thesaurus seed)."""

    codes: tuple[str, ...]
    icd10: tuple[str, ...]
    process: tuple[str, ...]
    weight: np.ndarray  # (C,)
    rr: np.ndarray  # (C, N_BANDS)
    female_odds: np.ndarray  # (C,)
    reason_codes: tuple[str, ...]  # call-reason vocabulary
    reason_cum: np.ndarray  # (C, R) cumulative probabilities
    drug_codes: tuple[str, ...]  # index 0 is "no drug"
    drug_adult: np.ndarray  # (C, S) index into drug_codes
    drug_child: np.ndarray  # (C, S)
    drug_prob: np.ndarray  # (C, S)
    vitals: np.ndarray  # (C,) index into VITALS_KEYS
    outcome: np.ndarray  # (C, 4) probabilities DOM MT URG HOSP
    associates: np.ndarray  # (C, 3) condition indices
    death: int  # index of the death-certification condition


def _parse() -> Profiles:
    thes = reference.thesaurus()
    order = {r["thesaurus_code"]: i for i, r in enumerate(thes)}
    lines = [ln for ln in _PROFILES.strip().splitlines() if ln.strip()]
    by_code = {ln.split("|", 1)[0]: ln.split("|") for ln in lines}
    if set(by_code) != set(order):
        raise ValueError(
            f"clinical profiles and the thesaurus seed disagree: {sorted(set(by_code) ^ set(order))}"
        )
    reasons = reference.call_reason_codes()
    drug_codes = ("", *reference.drugs())
    n = len(thes)
    n_slots = max(len(by_code[c][6].split()) for c in order)
    weight = np.zeros(n)
    rr = np.zeros((n, N_BANDS))
    fem = np.ones(n)
    rcum = np.zeros((n, len(reasons)))
    d_adult = np.zeros((n, n_slots), dtype=np.int64)
    d_child = np.zeros((n, n_slots), dtype=np.int64)
    d_prob = np.zeros((n, n_slots))
    vit = np.zeros(n, dtype=np.int64)
    out = np.zeros((n, 4))
    assoc = np.zeros((n, 3), dtype=np.int64)
    process = [""] * n
    for code, i in order.items():
        _, proc, w, r, f, rs, ds, v, o, a = by_code[code]
        process[i] = proc
        weight[i] = float(w)
        rr[i] = [float(x) for x in r.split()]
        fem[i] = float(f)
        probs = np.zeros(len(reasons))
        for item in rs.split():
            k, p = item.split(":")
            probs[reasons.index(k)] = float(p)
        rcum[i] = np.cumsum(probs / probs.sum())
        for s, item in enumerate(ds.split()):
            pair, p = item.split(":")
            adult, child = pair.split("/")
            d_adult[i, s] = drug_codes.index(adult) if adult != "-" else 0
            d_child[i, s] = drug_codes.index(child) if child != "-" else 0
            d_prob[i, s] = float(p)
        vit[i] = VITALS_KEYS.index(v)
        out[i] = [float(x) for x in o.split()]
        assoc[i] = [order[x] for x in a.split()]
    out_sum = out.sum(axis=1, keepdims=True)
    out = np.divide(out, out_sum, out=np.zeros_like(out), where=out_sum > 0)
    return Profiles(
        codes=tuple(order),
        icd10=tuple(r["icd10_code"] for r in thes),
        process=tuple(process),
        weight=weight,
        rr=rr,
        female_odds=fem,
        reason_codes=reasons,
        reason_cum=rcum,
        drug_codes=drug_codes,
        drug_adult=d_adult,
        drug_child=d_child,
        drug_prob=d_prob,
        vitals=vit,
        outcome=out,
        associates=assoc,
        death=order["CONSTAT_DECES"],
    )


@cache
def profiles() -> Profiles:
    return _parse()
