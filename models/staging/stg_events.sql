{{ config(materialized='view') }}

{#-
  One row per distinct valid event. Exact duplicate rows (same nine fields)
  collapse into one row whose `source_row_count` says how many raw rows it
  stands for, so raw rows = sum(source_row_count) + quarantined rows.

  A view over the parsed lines, as staging is in the house style: fct_events
  reads it for the dates it rebuilds (a filter on event_date reaches the
  parsed lines below the de-duplication), so the events are written once,
  as the fact, instead of a second time here. A date spread over an old and
  a new file is de-duplicated whole, from the lines of every file.
-#}

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
    where quarantine_reason is null

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
        event_date
    from deduplicated

)

select * from final
