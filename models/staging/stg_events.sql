{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
    )
}}

{#-
  One row per distinct valid event. Exact duplicate rows (same nine fields)
  collapse into one row whose `source_row_count` says how many raw rows it
  stands for, so raw rows = sum(source_row_count) + quarantined rows.

  Incremental runs rebuild only the event dates that lines loaded since the
  last run touch, from the parsed lines of every file (never from raw text
  again), so a date spread over an old and a new file is recomputed whole.
-#}

{%- set dates = dates_to_rebuild(ref('base_rees46__event_lines')) %}

with event_lines as (

    select
        event_at,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        user_id,
        user_session,
        source_file,
        event_date
    from {{ ref('base_rees46__event_lines') }}
    where
        quarantine_reason is null
        and {{ in_dates('event_date', dates) }}

),

deduplicated as (

    select
        event_date,
        event_at,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        user_id,
        user_session,
        min(source_file) as source_file,
        count(*) as source_row_count
    from event_lines
    group by
        event_date,
        event_at,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        user_id,
        user_session

),

final as (

    select
        md5(concat_ws(
            '|',
            cast(event_at as string),
            event_type,
            cast(product_id as string),
            cast(category_id as string),
            coalesce(category_code, ''),
            coalesce(brand, ''),
            cast(price as string),
            cast(user_id as string),
            coalesce(user_session, '')
        )) as event_id,
        event_at,
        event_type,
        product_id,
        category_id,
        category_code,
        brand,
        price,
        user_id,
        user_session,
        source_file,
        source_row_count,
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        event_date
    from deduplicated

)

select * from final
