{#- Every raw data line is accounted for: the data lines of the loaded files
    (the manifest's counts) = staged events x their source_row_count +
    quarantined lines. Returns one row with the numbers when they disagree.
    With the var `full_data_checks: true` it also counts the raw text again
    (a full read of every file) and compares that count too. -#}
{% test raw_rows_reconcile(model, quarantine_model, manifest_model) %}

with manifest as (

    select coalesce(sum(data_lines), 0) as raw_rows
    from {{ manifest_model }}

),

{%- if var('full_data_checks') %}
raw_text as (

    select count(*) as raw_text_rows
    from {{ source('rees46', 'events_raw') }}
    where lower(trim(value)) not like 'event_time,event_type,%'

),
{%- endif %}

staged as (

    select
        coalesce(sum(source_row_count), 0) as staged_source_rows,
        count(*) as staged_events
    from {{ model }}

),

quarantined as (

    select count(*) as quarantined_rows
    from {{ quarantine_model }}

),

compared as (

    select
        manifest.raw_rows,
        {{ 'raw_text.raw_text_rows' if var('full_data_checks') else 'manifest.raw_rows' }} as raw_text_rows,
        staged.staged_events,
        staged.staged_source_rows - staged.staged_events as duplicates_removed,
        quarantined.quarantined_rows
    from manifest
    cross join staged
    cross join quarantined
    {%- if var('full_data_checks') %}
    cross join raw_text
    {%- endif %}

)

select *
from compared
where
    raw_rows != staged_events + duplicates_removed + quarantined_rows
    or raw_text_rows != raw_rows

{% endtest %}
