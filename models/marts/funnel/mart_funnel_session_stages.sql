{#- The session funnel: how many sessions reach each stage and how many are
    lost between stages. A session reaches a stage when its deepest step is
    that stage or a later one (a purchase without a cart event in the session
    still counts as having passed the cart stage). -#}

with sessions as (

    select
        funnel_stage,
        views,
        carts,
        purchases
    from {{ ref('fct_sessions') }}

),

stage_sessions as (

    select
        count(*) as all_sessions,
        count_if(views > 0 or carts > 0 or purchases > 0) as viewed_sessions,
        count_if(funnel_stage in ('carted', 'purchased')) as carted_sessions,
        count_if(funnel_stage = 'purchased') as purchased_sessions
    from sessions

),

stages as (

    {%- set stages = [
        (1, 'session', 'all_sessions', 'all_sessions - viewed_sessions', 'cast(null as bigint)'),
        (2, 'viewed', 'viewed_sessions', 'viewed_sessions - carted_sessions', 'all_sessions'),
        (3, 'carted', 'carted_sessions', 'carted_sessions - purchased_sessions', 'viewed_sessions'),
        (4, 'purchased', 'purchased_sessions', 'purchased_sessions', 'carted_sessions'),
    ] %}
    {% for order, name, reaching, ending, previous in stages %}
    select
        {{ order }} as stage_order,
        '{{ name }}' as stage,
        {{ reaching }} as sessions_reaching_stage,
        {{ ending }} as sessions_ending_at_stage,
        {{ previous }} as sessions_at_previous_stage,
        all_sessions as sessions_in_total
    from stage_sessions
    {{ 'union all' if not loop.last }}
    {% endfor %}

),

final as (

    select
        stage_order,
        stage,
        sessions_reaching_stage,
        sessions_ending_at_stage,
        {{ safe_divide('sessions_reaching_stage', 'sessions_in_total') }} as share_of_all_sessions,
        {{ safe_divide('sessions_reaching_stage', 'sessions_at_previous_stage') }}
            as conversion_from_previous_stage,
        sessions_at_previous_stage - sessions_reaching_stage as drop_off_from_previous_stage,
        1 - {{ safe_divide('sessions_reaching_stage', 'sessions_at_previous_stage') }}
            as drop_off_rate_from_previous_stage
    from stages

)

select * from final
