{#-
  The funnel and demand of every product dimension in one long table: one row
  per value of category code, category level 1, brand, price band, and level-1
  category x price band (`dimension` says which). The funnel, demand and price
  marts each select their dimension from here, so users, sessions and revenue
  ranks are computed one way for all of them.

  Distinct users and sessions per value come from the session x product-group
  grain in two aggregation steps (value x user, then value; value x session,
  then value), all dimensions in one pass with grouping sets, never as
  count(distinct) over events. Sessions are counted for the dimensions whose
  funnels report them (level-1 category, brand, price band). Missing codes,
  brands and levels fall under 'unknown', so every dimension's totals
  reconcile with the events.
-#}

with session_product_groups as (

    select
        session_key,
        user_id,
        coalesce(category_code, 'unknown') as category_code,
        coalesce(category_l1, 'unknown') as category_l1,
        coalesce(brand, 'unknown') as brand,
        price_band,
        price_band_order,
        views,
        carts,
        remove_from_carts,
        purchases,
        revenue
    from {{ ref('fct_session_product_groups') }}

),

value_users as (

    -- step 1: each value's users with their counts (all five dimensions in one
    -- pass: grouping sets)
    select
        case
            when grouping(category_code) = 0 then 'category_code'
            when grouping(brand) = 0 then 'brand'
            when grouping(category_l1) = 0 and grouping(price_band) = 0 then 'category_l1_price_band'
            when grouping(category_l1) = 0 then 'category_l1'
            else 'price_band'
        end as dimension,
        category_code,
        category_l1,
        brand,
        price_band,
        case when grouping(price_band) = 0 then min(price_band_order) end as price_band_order,
        user_id,
        sum(views) as views,
        sum(carts) as carts,
        sum(remove_from_carts) as remove_from_carts,
        sum(purchases) as purchases,
        sum(revenue) as revenue
    from session_product_groups
    group by grouping sets (
        (category_code, user_id),
        (category_l1, user_id),
        (brand, user_id),
        (price_band, user_id),
        (category_l1, price_band, user_id)
    )

),

value_sessions as (

    -- each value's sessions, for the dimensions whose funnel reports them
    select
        case
            when grouping(category_l1) = 0 then 'category_l1'
            when grouping(brand) = 0 then 'brand'
            else 'price_band'
        end as dimension,
        category_l1,
        brand,
        price_band,
        session_key,
        user_id
    from session_product_groups
    group by grouping sets (
        (category_l1, session_key, user_id),
        (brand, session_key, user_id),
        (price_band, session_key, user_id)
    )

),

session_counts as (

    select
        dimension,
        category_l1,
        brand,
        price_band,
        count(*) as sessions
    from value_sessions
    group by dimension, category_l1, brand, price_band

),

user_counts as (

    -- step 2: each value's totals and users reaching each step
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
        count(*) as unique_users,
        count_if(views > 0) as viewers,
        count_if(carts > 0) as carters,
        count_if(purchases > 0) as purchasers
    from value_users
    group by dimension, category_code, category_l1, brand, price_band

),

dimension_values as (

    select
        user_counts.*,
        session_counts.sessions
    from user_counts
    left join session_counts
        on user_counts.dimension = session_counts.dimension
        and user_counts.category_l1 <=> session_counts.category_l1
        and user_counts.brand <=> session_counts.brand
        and user_counts.price_band <=> session_counts.price_band

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
