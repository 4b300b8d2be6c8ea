-- Epidemic curve of influenza (grippe) in one région, week by week, from the published export.
-- Run from the folder that holds publication/ (the lake root), e.g.:
--   duckdb -c ".read analyses/influenza_epidemic_curve_by_region.sql"
-- or in Python: duckdb.sql(open("analyses/influenza_epidemic_curve_by_region.sql").read())
-- Change the région code (INSEE COG: 11 Île-de-France, 84 Auvergne-Rhône-Alpes, 93 PACA, ...) or the
-- syndrome_group (gea, bronchiolite, covid19, ...) to draw another curve. A NULL count is suppressed
-- (fewer than 11 acts, or withheld to protect such a count); its share and incidence are NULL too.
-- The share of coded acts is SurSaUD's indicator (draw it with its baseline and threshold shares);
-- incidence is per 100,000 inhabitants of the départements the network covers, which are
-- population_coverage_pct % of the région.
select
    indicators.iso_week,
    indicators.week_start_date,
    indicators.geo_name,
    indicators.syndrome_act_count,
    indicators.coded_act_count,
    indicators.syndrome_share_of_coded_pct,
    baseline.baseline_share_pct,
    baseline.epidemic_threshold_share_pct,
    indicators.incidence_per_100k,
    indicators.covered_population,
    indicators.population_coverage_pct,
    baseline.baseline_count,
    baseline.epidemic_threshold,
    baseline.is_epidemic_week,
    baseline.epidemic_phase
from read_parquet('publication/syndromic_indicators_by_week.parquet') as indicators
left join read_parquet('publication/epidemic_baseline_by_week.parquet') as baseline
    on
        indicators.syndrome_group = baseline.syndrome_group
        and indicators.geo_level = baseline.geo_level
        and indicators.geo_code = baseline.geo_code
        and indicators.iso_week = baseline.iso_week
where
    indicators.syndrome_group = 'grippe'
    and indicators.age_class = 'all'
    and indicators.geo_level = 'region'
    and indicators.geo_code = '11'
order by indicators.week_start_date
