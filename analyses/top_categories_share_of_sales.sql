-- Which categories drive sales, and how concentrated is revenue? The head of
-- the Pareto curve: categories that together make 80% of revenue.
select
    category_code,
    revenue_rank,
    purchases,
    revenue,
    revenue_share,
    cumulative_revenue_share,
    pareto_class
from {{ ref('mart_category_demand') }}
where pareto_class = 'A'
order by revenue_rank
