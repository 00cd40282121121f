{{ config(materialized='view') }}

{#- Every raw data line that could not be staged, with the reason. Nothing is
    dropped silently: raw rows = staged rows + duplicates removed + these. A
    view over the parsed lines, so the raw text is not read a second time; the
    raw fields are split again only for these few lines. -#}

with quarantined_lines as (

    select
        source_file,
        raw_line,
        quarantine_reason,
        split(raw_line, ',', -1) as fields
    from {{ ref('base_rees46__event_lines') }}
    where quarantine_reason is not null

),

final as (

    select
        md5(concat_ws('|', source_file, raw_line)) as quarantine_line_hash,
        source_file,
        raw_line,
        quarantine_reason,
        size(fields) as field_count,
        trim(fields[0]) as event_time_text,
        lower(trim(fields[1])) as event_type_text,
        trim(fields[2]) as product_id_text,
        trim(fields[3]) as category_id_text,
        trim(fields[6]) as price_text,
        trim(fields[7]) as user_id_text
    from quarantined_lines

)

select * from final
