{{ config(materialized='view') }}

{#-
  Where every ML training set is cut, defined once for all three tasks: one
  row per task and split, with the days the split's rows come from. The
  training sets and the training node (ml_training_runs) read these rows;
  none of them computes a window of its own.

  purchase_propensity (features over F = ml_feature_window_days, label over
  the next L = ml_label_window_days; E = the day after the last event date):
    test          features [E - L - F, E - L), label [E - L, E)
    train         the test windows moved back by L days (its label window
                  ends where the test label window starts)
    rolling_<k>_test, rolling_<k>_train
                  rolling-origin fold k >= 2: fold 1's windows (test, train)
                  moved back (k - 1) x ml_rolling_origin_step_days days
    score         features [E - F, E), no label yet (what predictions use)
    same_window   features and label over the whole period (the original
                  study's setup, reported for comparison, not a forecast)
    A split exists only where the data covers its feature window (a window
    cut short by the first event date would count less activity than its
    length promises); without train or test the task is skipped, with that
    reason, in ml_model_metrics.

  cart_conversion (carts dated in [start_date, end_date); C = the day after
  the last day whose carts all have a closed label window of
  ml_cart_label_window_hours):
    test          the last ml_cart_test_days closed days, [C - T, C)
    train         every earlier cart whose label window closed before the
                  test days: up to a gap of the label window in whole days
    rolling_<k>_*  the same moved back (k - 1) x ml_rolling_origin_step_days
  (carts between train and test are the `gap`; carts whose label window is
  still open are `open`: see ml_cart_training_set)

  product_recommendation: train on the days before the last L days, test
  (what users carted or bought) on those L days.

  `definition_hash` fingerprints what each task's training rows are built
  from (see definition_hash()): the training node retrains a task when it
  changes.
-#}

{%- set feature_days = var('ml_feature_window_days') | int %}
{%- set label_days = var('ml_label_window_days') | int %}
{%- set folds = var('ml_rolling_origin_folds') | int %}
{%- set step_days = var('ml_rolling_origin_step_days') | int %}
{%- set cart_label_hours = var('ml_cart_label_window_hours') | int %}
{%- set cart_test_days = var('ml_cart_test_days') | int %}
{#- the cart label window in whole days: the gap between train and test carts #}
{%- set cart_gap_days = ((cart_label_hours + 23) // 24) | int %}

with user_days as (

    select
        event_date,
        last_event_at
    from {{ ref('fct_user_daily_activity') }}

),

bounds as (

    select
        min(event_date) as first_date,
        date_add(max(event_date), 1) as end_date,
        -- the day after the last date whose carts all have a closed label window
        date_add(
            to_date(timestamp_seconds(max(unix_timestamp(last_event_at)) - {{ cart_label_hours }} * 3600)), 1
        ) as closed_end_date
    from user_days

),

folds as (

    -- fold 1 holds the forecast's own windows; fold k is moved back (k - 1) steps
    select
        fold,
        (fold - 1) * {{ step_days }} as shift_days
    from (select explode(sequence(1, {{ folds }})) as fold) as fold_numbers

),

parts as (

    -- how far the train windows lie before the test windows of the same fold
    select
        'test' as part,
        0 as purchase_offset_days
    union all
    select
        'train' as part,
        {{ label_days }} as purchase_offset_days

),

fold_windows as (

    select
        'purchase_propensity' as task,
        folds.fold,
        parts.part,
        date_sub(bounds.end_date, {{ label_days + feature_days }} + parts.purchase_offset_days + folds.shift_days)
            as start_date,
        date_sub(bounds.end_date, {{ label_days }} + parts.purchase_offset_days + folds.shift_days)
            as feature_end_date,
        date_sub(bounds.end_date, {{ label_days }} + parts.purchase_offset_days + folds.shift_days)
            as label_start_date,
        date_sub(bounds.end_date, parts.purchase_offset_days + folds.shift_days) as end_date
    from bounds
    cross join folds
    cross join parts
    union all
    select
        'cart_conversion' as task,
        folds.fold,
        parts.part,
        case
            when parts.part = 'test' then date_sub(bounds.closed_end_date, {{ cart_test_days }} + folds.shift_days)
            else bounds.first_date
        end as start_date,
        cast(null as date) as feature_end_date,
        cast(null as date) as label_start_date,
        case
            when parts.part = 'test' then date_sub(bounds.closed_end_date, folds.shift_days)
            else date_sub(bounds.closed_end_date, {{ cart_test_days + cart_gap_days }} + folds.shift_days)
        end as end_date
    from bounds
    cross join folds
    cross join parts

),

windows as (

    select
        task,
        case when fold = 1 then part else concat('rolling_', fold, '_', part) end as split,
        fold,
        start_date,
        feature_end_date,
        label_start_date,
        end_date
    from fold_windows
    union all
    select
        'purchase_propensity' as task,
        'score' as split,
        cast(null as int) as fold,
        date_sub(end_date, {{ feature_days }}) as start_date,
        end_date as feature_end_date,
        cast(null as date) as label_start_date,
        end_date
    from bounds
    union all
    select
        'purchase_propensity' as task,
        'same_window' as split,
        cast(null as int) as fold,
        first_date as start_date,
        end_date as feature_end_date,
        first_date as label_start_date,
        end_date
    from bounds
    union all
    select
        'product_recommendation' as task,
        parts.part as split,
        cast(null as int) as fold,
        case
            when parts.part = 'test' then date_sub(bounds.end_date, {{ label_days }})
            else bounds.first_date
        end as start_date,
        cast(null as date) as feature_end_date,
        cast(null as date) as label_start_date,
        case
            when parts.part = 'test' then bounds.end_date
            else date_sub(bounds.end_date, {{ label_days }})
        end as end_date
    from bounds
    cross join parts

),

definitions as (

    select
        'purchase_propensity' as task,
        '{{ definition_hash(["ml_training_windows", "ml_purchase_training_set"]) }}' as definition_hash
    union all
    select
        'cart_conversion' as task,
        '{{ definition_hash(["ml_training_windows", "ml_cart_training_set", "ml_cart_features"]) }}'
            as definition_hash
    union all
    select
        'product_recommendation' as task,
        '{{ definition_hash(["ml_training_windows", "fct_user_product_daily"]) }}' as definition_hash

),

final as (

    select
        windows.task,
        windows.split,
        windows.fold,
        windows.start_date,
        windows.feature_end_date,
        windows.label_start_date,
        windows.end_date,
        bounds.end_date as data_end_date,
        definitions.definition_hash
    from windows
    cross join bounds
    inner join definitions
        on windows.task = definitions.task
    -- only windows the data covers: nothing before the first event date, and
    -- a test period that is not empty
    where
        windows.start_date >= bounds.first_date
        and windows.end_date > windows.start_date

)

select * from final
