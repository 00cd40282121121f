{{ config(materialized='table') }}

{#- Every raw data line that could not be staged, with the reason. Nothing is
    dropped silently: raw rows = staged rows + duplicates removed + these. -#}

with event_lines as (

    select * from {{ ref('base_rees46__event_lines') }}

),

quarantined as (

    select
        md5(concat_ws('|', source_file, raw_line)) as quarantine_line_hash,
        source_file,
        raw_line,
        quarantine_reason,
        field_count,
        event_time_text,
        event_type_text,
        product_id_text,
        category_id_text,
        price_text,
        user_id_text
    from event_lines
    where quarantine_reason is not null

)

select * from quarantined
