{#- Every raw data line is accounted for: raw lines (headers excluded) =
    staged events x their source_row_count + quarantined lines. Returns one row
    with the three numbers when they disagree. -#}
{% test raw_rows_reconcile(model, quarantine_model) %}

with raw_lines as (

    select count(*) as raw_rows
    from {{ source('rees46', 'events_raw') }}
    where lower(trim(value)) not like 'event_time,event_type,%'

),

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
        raw_lines.raw_rows,
        staged.staged_events,
        staged.staged_source_rows - staged.staged_events as duplicates_removed,
        quarantined.quarantined_rows
    from raw_lines
    cross join staged
    cross join quarantined

)

select *
from compared
where raw_rows != staged_events + duplicates_removed + quarantined_rows

{% endtest %}
