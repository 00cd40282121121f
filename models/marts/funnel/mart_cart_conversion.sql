{#- Cart-to-purchase conversion as a merchandiser reads it: the share of
    distinct (user, product) pairs added to a cart that the same user bought at
    or after the first cart addition. One row overall, one per level-1 category
    and one per brand, told apart by `breakdown`. -#}

with cart_outcomes as (

    select
        user_id,
        product_id,
        cart_at,
        category_l1,
        brand,
        next_purchase_at
    from {{ ref('fct_cart_outcomes') }}

),

pairs as (

    -- a pair's first purchase at or after its first cart is the earliest
    -- `next_purchase_at` over its carts
    select
        user_id,
        product_id,
        coalesce(min_by(category_l1, cart_at), 'unknown') as category_l1,
        coalesce(min_by(brand, cart_at), 'unknown') as brand,
        min(next_purchase_at) is not null as purchased_after_cart,
        (unix_timestamp(min(next_purchase_at)) - unix_timestamp(min(cart_at))) / 3600.0 as hours_to_purchase
    from cart_outcomes
    group by user_id, product_id

),

{%- set breakdowns = {'overall': "'all'", 'category_l1': 'category_l1', 'brand': 'brand'} %}

{% for breakdown, value in breakdowns.items() %}
by_{{ breakdown }} as (

    select
        '{{ breakdown }}' as breakdown,
        {{ value }} as breakdown_value,
        count(*) as carted_pairs,
        count_if(purchased_after_cart) as purchased_pairs,
        percentile_approx(hours_to_purchase, 0.5) as median_hours_to_purchase
    from pairs
    {% if breakdown != 'overall' %}group by {{ value }}{% endif %}

),
{% endfor %}

unioned as (

    {% for breakdown in breakdowns %}
    select * from by_{{ breakdown }}
    {{ 'union all' if not loop.last }}
    {% endfor %}

),

final as (

    select
        breakdown,
        breakdown_value,
        carted_pairs,
        purchased_pairs,
        {{ safe_divide('purchased_pairs', 'carted_pairs') }} as cart_to_purchase_rate,
        median_hours_to_purchase
    from unioned

)

select * from final
