{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['source_file'],
    )
}}

{#- The manifest of loaded raw files: one row per file whose lines are in
    base_rees46__event_lines, with the size and modification time the parse
    read it at (its rows' `_metadata`), never those of a listing of its own:
    on the Thrift target every model lists the folder afresh, and a file that
    landed or grew after the parse would be recorded as loaded with lines it
    never parsed. A file with no data line (empty, or a header only) has no
    parsed row and is not listed: nothing of it is loaded, and the next build
    reads it again. The next incremental run compares the raw folder with this
    manifest to find new files (see raw_files_to_load). -#}

with event_lines as (

    select
        source_file,
        source_file_size,
        source_file_modified_at,
        quarantine_reason,
        event_date
    from {{ ref('base_rees46__event_lines') }}
    {%- if is_incremental() %}
    -- the files parsed since the manifest was last written (this build's new
    -- files, or those a killed build parsed without recording them)
    where source_file not in (select manifest.source_file from {{ this }} as manifest)
    {%- endif %}

),

final as (

    select
        max(source_file_size) as file_size_bytes,
        max(source_file_modified_at) as file_modified_at,
        count(*) as data_lines,
        count_if(quarantine_reason is null) as valid_lines,
        count_if(quarantine_reason is not null) as quarantined_lines,
        min(case when quarantine_reason is null then event_date end) as first_event_date,
        max(case when quarantine_reason is null then event_date end) as last_event_date,
        {{ load_stamp() }} as loaded_at,
        source_file
    from event_lines
    group by source_file

)

select * from final
