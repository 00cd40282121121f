{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
        file_format='parquet',
    )
}}

{#-
  One row per distinct valid event. Exact duplicate rows (same nine fields)
  collapse into one row whose `source_row_count` says how many raw rows it
  stands for, so raw rows = sum(source_row_count) + quarantined rows.

  Incremental runs rebuild only the event dates touched by files not seen
  before; those dates are recomputed from all raw files, so a date spread over
  an old and a new file is never half overwritten.
-#}

with event_lines as (

    select * from {{ ref('base_rees46__event_lines') }}
    where quarantine_reason is null

),

lines_to_process as (

    select event_lines.*
    from event_lines
    {%- if is_incremental() %} -- noqa: disable=LT02
    -- only the dates that files not loaded before contribute to
    where to_date(event_lines.event_at) in (
        select to_date(new_lines.event_at)
        from event_lines as new_lines
        where new_lines.source_file not in (
            select loaded.source_file from {{ this }} as loaded
        )
    )
    {%- endif %} -- noqa: enable=LT02

),

normalised as (

    select
        event_at,
        event_type_text as event_type,
        product_id,
        category_id,
        {{ empty_as_null('category_code_text') }} as category_code,
        {{ empty_as_null('brand_text') }} as brand,
        price,
        user_id,
        {{ empty_as_null('user_session_text') }} as user_session,
        source_file
    from lines_to_process

),

deduplicated as (

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
        min(source_file) as source_file,
        count(*) as source_row_count
    from normalised
    group by
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

enriched as (

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
        hour(event_at) as event_hour,
        weekday(event_at) + 1 as event_weekday,
        date_format(event_at, 'EEE') as event_weekday_name,
        weekofyear(event_at) as event_iso_week,
        event_type,
        product_id,
        category_id,
        category_code,
        split_part(category_code, '.', 1) as category_l1,
        nullif(split_part(category_code, '.', 2), '') as category_l2,
        nullif(split_part(category_code, '.', 3), '') as category_l3,
        brand,
        price,
        user_id,
        user_session,
        source_file,
        source_row_count,
        -- partition column last: Spark stores partition columns at the end
        to_date(event_at) as event_date
    from deduplicated

)

select * from enriched
