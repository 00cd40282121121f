{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['source_file'],
    )
}}

{#-
  Every data line of every loaded raw file (header lines excluded), parsed
  once: split into its nine fields, typed, and classified as valid
  (`quarantine_reason` null) or not (a date outside the plausible range of the
  plausible_event_* vars is not valid), with the raw text kept for the lines that
  are not valid. stg_events and stg_events_quarantine read this table, so the
  raw text is parsed once per build, and an incremental build parses only the
  files the manifest (stg_raw_files) does not list yet: one partition per file.
-#}

{%- set new_files = raw_files_to_load(source('rees46', 'events_raw_files')) if is_incremental() else none %}

with source as (

    select
        -- a UTF-8 byte-order mark (some exports write one before the header) is not data
        regexp_replace(raw_lines.value, '^\uFEFF', '') as raw_line,
        raw_lines._metadata.file_name as source_file,
        -- the file as this scan read it: the manifest (stg_raw_files) records
        -- these, never a listing of its own (a file landing or growing after
        -- this scan must not count as loaded)
        raw_lines._metadata.file_size as source_file_size,
        raw_lines._metadata.file_modification_time as source_file_modified_at
    from {{ source('rees46', 'events_raw') }} as raw_lines
    {%- if new_files is not none %}
    -- only new files (Spark prunes the other files from the scan)
    where {{ in_list('raw_lines._metadata.file_name', new_files) }}
    {%- endif %}

),

data_lines as (

    -- A header line may appear at the top of each file (or be missing);
    -- it is not an event and is not counted as a raw row.
    select
        raw_line,
        source_file,
        source_file_size,
        source_file_modified_at,
        split(raw_line, ',', -1) as fields
    from source
    where lower(trim(raw_line)) not like 'event_time,event_type,%'

),

fields as (

    select
        raw_line,
        source_file,
        source_file_size,
        source_file_modified_at,
        size(fields) as field_count,
        trim(fields[0]) as event_time_text,
        lower(trim(fields[1])) as event_type_text,
        trim(fields[2]) as product_id_text,
        trim(fields[3]) as category_id_text,
        trim(fields[4]) as category_code_text,
        trim(fields[5]) as brand_text,
        trim(fields[6]) as price_text,
        trim(fields[7]) as user_id_text,
        trim(fields[8]) as user_session_text
    from data_lines

),

typed as (

    select
        *,
        {{ parse_event_time('event_time_text', var('accepted_event_time_formats')) }} as event_at,
        cast(product_id_text as bigint) as product_id,
        cast(category_id_text as bigint) as category_id,
        cast(price_text as decimal(12, 2)) as price,
        cast(user_id_text as bigint) as user_id
    from fields

),

classified as (

    select
        *,
        case
            when trim(raw_line) = '' then 'blank line'
            when field_count != 9
                then concat('expected 9 fields, found ', field_count)
            when event_at is null then 'unparseable event_time'
            when event_at < timestamp'{{ var("plausible_event_date_min") }}'
                then 'event_time before {{ var("plausible_event_date_min") }} (implausible)'
            when event_at > {{ latest_plausible_event_time(var('plausible_event_days_ahead')) }}
                then 'event_time more than {{ var("plausible_event_days_ahead") }} day(s) after the build started'
            when event_type_text not in ({{ "'" ~ var('accepted_event_types') | join("', '") ~ "'" }})
                then 'unknown event_type'
            when not {{ is_integer_text('product_id_text') }} or product_id is null
                then 'invalid product_id'
            when category_id_text rlike '^[0-9.]+[eE][+-]?[0-9]+$'
                then 'category_id in scientific notation (digits lost)'
            when not {{ is_integer_text('category_id_text') }} or category_id is null
                then 'invalid category_id'
            when price_text = '' then 'missing price'
            when not {{ is_decimal_text('price_text') }} then 'non-numeric price'
            when price is null then 'price out of range'
            when price < 0 then 'negative price'
            when user_id_text = '' then 'missing user_id'
            when not {{ is_integer_text('user_id_text') }} or user_id is null
                then 'invalid user_id'
        end as quarantine_reason
    from typed

),

final as (

    -- typed fields for valid lines; the raw text only for the others (keeping
    -- it for every line would store the raw files a second time)
    select
        quarantine_reason,
        case when quarantine_reason is not null then raw_line end as raw_line,
        event_at,
        event_type_text as event_type,
        product_id,
        category_id,
        {{ empty_as_null('category_code_text') }} as category_code,
        {{ empty_as_null('brand_text') }} as brand,
        price,
        user_id,
        {{ empty_as_null('user_session_text') }} as user_session,
        to_date(event_at) as event_date,
        {{ load_stamp() }} as loaded_at,
        source_file_size,
        source_file_modified_at,
        -- partition column last: Spark stores partition columns at the end
        source_file
    from classified

)

select * from final
