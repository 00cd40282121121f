{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['source_file'],
    )
}}

{#- The manifest of loaded raw files: one row per file, written when the file's
    lines are parsed into base_rees46__event_lines. The next incremental run
    compares the raw folder with it to find new files (see raw_files_to_load). -#}

{%- set new_files = raw_files_to_load(source('rees46', 'events_raw_files')) if is_incremental() else none %}

with raw_files as (

    select
        _metadata.file_name as source_file,
        _metadata.file_size as file_size_bytes,
        _metadata.file_modification_time as file_modified_at
    from {{ source('rees46', 'events_raw_files') }}
    {%- if new_files is not none %}
    where {{ in_list('_metadata.file_name', new_files) }}
    {%- endif %}

),

event_lines as (

    select
        source_file,
        quarantine_reason,
        event_date
    from {{ ref('base_rees46__event_lines') }}
    {%- if new_files is not none %}
    where {{ in_list('source_file', new_files) }}
    {%- endif %}

),

line_counts as (

    select
        source_file,
        count(*) as data_lines,
        count_if(quarantine_reason is null) as valid_lines,
        count_if(quarantine_reason is not null) as quarantined_lines,
        min(case when quarantine_reason is null then event_date end) as first_event_date,
        max(case when quarantine_reason is null then event_date end) as last_event_date
    from event_lines
    group by source_file

),

final as (

    -- a file without data lines (empty, or a header only) is listed too, so
    -- it is not taken for a new file again on every run
    select
        raw_files.file_size_bytes,
        raw_files.file_modified_at,
        coalesce(line_counts.data_lines, 0) as data_lines,
        coalesce(line_counts.valid_lines, 0) as valid_lines,
        coalesce(line_counts.quarantined_lines, 0) as quarantined_lines,
        line_counts.first_event_date,
        line_counts.last_event_date,
        {{ load_stamp() }} as loaded_at,
        raw_files.source_file
    from raw_files
    left join line_counts
        on raw_files.source_file = line_counts.source_file

)

select * from final
