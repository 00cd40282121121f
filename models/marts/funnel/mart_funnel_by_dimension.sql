{#-
  The funnel and demand of every product dimension over the whole period, in
  one long table: one row per value of category code, category level 1,
  brand, price band, and level-1 category x price band (`dimension` says
  which). The daily rows of fct_product_dimension_daily added up: event
  counts and revenue are sums; users, users reaching each step and sessions
  are the estimates of the merged daily sketches (sketch_count), so a new day
  adds one day of work. Then the revenue ranking and Pareto shares within
  each dimension. The demand, funnel and price marts are views of their
  dimension's rows.
-#}

with daily as (

    select
        dimension,
        category_code,
        category_l1,
        brand,
        price_band,
        price_band_order,
        views,
        carts,
        remove_from_carts,
        purchases,
        revenue,
        users_sketch,
        viewers_sketch,
        carters_sketch,
        purchasers_sketch,
        sessions_sketch
    from {{ ref('fct_product_dimension_daily') }}

),

dimension_values as (

    select
        dimension,
        category_code,
        category_l1,
        brand,
        price_band,
        min(price_band_order) as price_band_order,
        sum(views) as views,
        sum(carts) as carts,
        sum(remove_from_carts) as remove_from_carts,
        sum(purchases) as purchases,
        sum(revenue) as revenue,
        {{ sketch_count('users_sketch') }} as unique_users,
        {{ sketch_count('viewers_sketch') }} as viewers,
        {{ sketch_count('carters_sketch') }} as carters,
        {{ sketch_count('purchasers_sketch') }} as purchasers,
        {{ sketch_count('sessions_sketch') }} as sessions
    from daily
    group by dimension, category_code, category_l1, brand, price_band

),

ranked as (

    select
        *,
        -- rank within the dimension by revenue, ties broken by purchases, then the value
        row_number() over (
            partition by dimension
            order by revenue desc, purchases desc, category_code asc, category_l1 asc, brand asc, price_band_order asc
        ) as revenue_rank,
        {{ safe_divide('revenue', 'sum(revenue) over (partition by dimension)') }} as revenue_share,
        case
            when dimension = 'category_l1_price_band'
                then {{ safe_divide('views', 'sum(views) over (partition by dimension, category_l1)') }}
        end as share_of_category_views
    from dimension_values

),

with_pareto as (

    select
        *,
        {{ safe_divide(
            'sum(revenue) over (partition by dimension order by revenue_rank'
                ~ ' rows between unbounded preceding and current row)',
            'sum(revenue) over (partition by dimension)'
        ) }} as cumulative_revenue_share
    from ranked

),

final as (

    select
        dimension,
        category_code,
        category_l1,
        brand,
        price_band,
        price_band_order,
        views,
        carts,
        remove_from_carts,
        purchases,
        revenue,
        unique_users,
        viewers,
        carters,
        purchasers,
        sessions,
        {{ funnel_event_rates() }},
        {{ safe_divide('purchasers', 'unique_users') }} as user_purchase_rate,
        {{ safe_divide('revenue', 'purchases') }} as avg_purchase_price,
        revenue_rank,
        revenue_share,
        cumulative_revenue_share,
        {{ pareto_class('cumulative_revenue_share', 'revenue_share') }} as pareto_class,
        share_of_category_views
    from with_pareto

)

select * from final
