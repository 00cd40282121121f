{#- Cart-to-purchase conversion as a merchandiser reads it: the share of
    distinct (user, product) pairs added to a cart that the same user bought at
    or after the first cart addition. One row overall, one per level-1 category
    and one per brand, told apart by `breakdown`. -#}

with pairs as (

    select
        coalesce(category_l1, 'unknown') as category_l1,
        coalesce(brand, 'unknown') as brand,
        purchased_after_cart,
        hours_to_purchase
    from {{ ref('int_user_product_carts') }}

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
