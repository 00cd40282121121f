-- Every (r_score, f_score) cell of the 5 x 5 grid maps to exactly one segment.
with scores as (

    select explode(sequence(1, 5)) as score

),

grid as (

    select
        r.score as r_score,
        f.score as f_score
    from scores as r
    cross join scores as f

),

mapped as (

    select
        r_score,
        f_score,
        count(*) as mappings
    from {{ ref('rfm_segment_map') }}
    group by r_score, f_score

)

select
    grid.r_score,
    grid.f_score,
    coalesce(mapped.mappings, 0) as mappings
from grid
left join mapped
    on grid.r_score = mapped.r_score and grid.f_score = mapped.f_score
where coalesce(mapped.mappings, 0) != 1
