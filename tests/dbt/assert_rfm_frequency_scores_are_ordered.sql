-- The frequency thresholds give every buyer exactly one F score: score 1
-- starts at one purchase session and each higher score needs strictly more.
with thresholds as (

    select
        f_score,
        min_frequency,
        lag(min_frequency) over (order by f_score) as lower_min_frequency
    from {{ ref('rfm_frequency_scores') }}

)

select
    f_score,
    min_frequency,
    lower_min_frequency
from thresholds
where
    (f_score = 1 and min_frequency != 1)
    or min_frequency <= lower_min_frequency
