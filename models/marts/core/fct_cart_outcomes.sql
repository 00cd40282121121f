{{ config(partition_by=['cart_date']) }}

{#- One row per cart addition, with what came of it: the first purchase of the
    same product by the same user at or after the addition (any time later in
    the data). Cart-to-purchase conversion in the marts and the label of the
    cart-conversion model both come from here.

    A purchase today settles carts of any earlier day, so every build writes
    the whole table, but it reads only what changed: with its previous build
    at hand (not on a full refresh), the carts of the days before the earliest
    date fct_events rebuilt since then keep their columns, and their next
    purchase stands when it came before that date; otherwise it is the first
    purchase of the rebuilt days at or after the cart. The carts of the
    rebuilt days are computed from those days' events alone (a purchase is
    never before its cart's day). -#}

{#- what describes a cart: copied from the previous build as they are -#}
{%- set cart_columns = [
    'cart_event_id', 'user_id', 'product_id', 'session_key', 'cart_at', 'event_hour', 'event_weekday',
    'event_iso_week', 'category_id', 'category_code', 'category_l1', 'category_l2', 'brand', 'price',
] %}

{%- set previous = previous_build() %}
{#- events from this date on are read; every date without a previous build -#}
{%- set first_changed = '0001-01-01' %}
{%- if previous is not none %}
  {%- set changed = run_query(
      "select cast(min(event_date) as string) from " ~ ref('fct_events')
      ~ " where loaded_at > (select max(loaded_at) from " ~ previous ~ ")").columns[0].values()[0] %}
  {#- nothing rebuilt since: every cart is kept as it is -#}
  {%- set first_changed = changed if changed is not none else '9999-12-31' %}
  {%- do log(this.identifier ~ ": " ~ ("carts from " ~ changed ~ " on recomputed, earlier ones updated"
      if changed is not none else "no new events; carts kept") ~ " (from the previous build)", info=true) %}
{%- endif %}

with cart_and_purchase_events as (

    select
        event_id,
        user_id,
        product_id,
        session_key,
        event_at,
        event_date,
        event_hour,
        event_weekday,
        event_iso_week,
        category_id,
        category_code,
        category_l1,
        category_l2,
        brand,
        price,
        is_cart,
        is_purchase
    from {{ ref('fct_events') }}
    where
        (is_cart or is_purchase)
        and event_date >= date'{{ first_changed }}'

),

{%- if previous is not none %}

previous_outcomes as (

    select
        {{ cart_columns | join(', ') }},
        next_purchase_at,
        loaded_at,
        cart_date
    from {{ this }}
    where cart_date < date'{{ first_changed }}'

),

recent_purchases as (

    select
        user_id,
        product_id,
        event_at
    from cart_and_purchase_events
    where is_purchase

),

open_earlier_carts as (

    -- earlier carts without a purchase before the rebuilt days: their first
    -- purchase at or after the cart among the rebuilt days' purchases
    select
        previous_outcomes.cart_event_id,
        min(recent_purchases.event_at) as next_purchase_at
    from previous_outcomes
    inner join recent_purchases
        on previous_outcomes.user_id = recent_purchases.user_id
        and previous_outcomes.product_id = recent_purchases.product_id
        and previous_outcomes.cart_at <= recent_purchases.event_at
    where
        previous_outcomes.next_purchase_at is null
        or previous_outcomes.next_purchase_at >= timestamp'{{ first_changed }}'
    group by previous_outcomes.cart_event_id

),

-- used in all_carts, under the same condition (the linter renders each branch alone)
earlier_carts as (  -- noqa: ST03

    select
        {%- for column in cart_columns %}
        previous_outcomes.{{ column }},
        {%- endfor %}
        case
            when previous_outcomes.next_purchase_at < timestamp'{{ first_changed }}'
                then previous_outcomes.next_purchase_at
            else open_earlier_carts.next_purchase_at
        end as next_purchase_at,
        previous_outcomes.loaded_at,
        previous_outcomes.cart_date
    from previous_outcomes
    left join open_earlier_carts
        on previous_outcomes.cart_event_id = open_earlier_carts.cart_event_id

),

{%- endif %}

with_next_purchase as (

    select
        *,
        -- a range frame: purchases in the same second as the cart count as after it
        min(case when is_purchase then event_at end) over (
            partition by user_id, product_id order by event_at
            range between current row and unbounded following
        ) as next_purchase_at
    from cart_and_purchase_events

),

recomputed_carts as (

    select
        event_id as cart_event_id,
        user_id,
        product_id,
        session_key,
        event_at as cart_at,
        event_hour,
        event_weekday,
        event_iso_week,
        category_id,
        category_code,
        category_l1,
        category_l2,
        brand,
        price,
        next_purchase_at,
        {{ load_stamp() }} as loaded_at,
        event_date as cart_date
    from with_next_purchase
    where is_cart

),

all_carts as (

    select * from recomputed_carts
    {%- if previous is not none %}
    union all
    select * from earlier_carts
    {%- endif %}

),

final as (

    select
        {{ cart_columns | join(', ') }},
        next_purchase_at,
        (unix_timestamp(next_purchase_at) - unix_timestamp(cart_at)) / 3600.0 as hours_to_next_purchase,
        loaded_at,
        cart_date
    from all_carts

)

select * from final
