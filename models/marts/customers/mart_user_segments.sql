{#- Behavioural segments: per-user activity, its z-scores on log(1 + x) over
    all users in the mart (sample standard deviation), and one segment per
    user from rules tried in precedence order (see the behaviour_segments seed). -#}

{%- set zscored_features = [
    'views', 'carts', 'remove_from_carts', 'purchases', 'sessions',
    'active_days', 'distinct_products', 'avg_view_price', 'revenue',
] %}

with behaviour as (

    select * from {{ ref('int_user_behaviour') }}

),

stats as (

    select
        {%- for feature in zscored_features %}
        {{ log_moments(feature) }}{{ ',' if not loop.last }}
        {%- endfor %}
    from behaviour

),

zscored as (

    select
        behaviour.user_id,
        behaviour.events,
        {%- for feature in zscored_features %}
        behaviour.{{ feature }},
        {%- endfor %}
        behaviour.distinct_categories,
        behaviour.first_event_at,
        behaviour.last_event_at,
        {%- for feature in zscored_features %}
        {{ log_zscore(feature, relation='behaviour') }} as z_{{ feature }}{{ ',' if not loop.last }}
        {%- endfor %}
    from behaviour
    cross join stats

),

segmented as (

    select
        user_id,
        events,
        {%- for feature in zscored_features %}
        {{ feature }},
        {%- endfor %}
        distinct_categories,
        first_event_at,
        last_event_at,
        {%- for feature in zscored_features %}
        z_{{ feature }},
        {%- endfor %}
        case
            when z_carts > {{ var('hi_risk_min_z_carts') }} and purchases = 0
                then 'High Interest / High Risk'
            when z_views > {{ var('churn_min_z_views') }} and carts = 0 and purchases = 0
                then 'Churn Warning'
            when purchases > 0 and z_revenue > {{ var('heavy_buyer_min_z_revenue') }}
                then 'Heavy Buyer'
            when purchases > 0
                then 'Buyer'
            when z_sessions > {{ var('engaged_min_z_sessions') }}
                then 'Engaged Browser'
            else 'Casual Browser'
        end as segment
    from zscored

)

select * from segmented
