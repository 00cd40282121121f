{#- Helpers for turning raw CSV fields into typed columns. -#}

{#- The event time as a UTC timestamp (the session time zone is UTC); null when
    the text matches none of `formats` (the var accepted_event_time_formats,
    passed in by the model so that its stored definition names it). The source's own
    layout (`2019-11-01 00:00:05 UTC`, nearly every line) takes a fast path: a
    length and suffix check and a plain cast, which is null for an impossible
    date or time. Other text tries the formats in order. -#}
{% macro parse_event_time(column, formats) -%}
  case
    when length({{ column }}) = 23 and endswith({{ column }}, ' UTC')
      then cast(substr({{ column }}, 1, 19) as timestamp)
    else coalesce(
      {%- for fmt in formats %}
      to_timestamp({{ column }}, "{{ fmt }}"){{ "," if not loop.last }}
      {%- endfor %}
    )
  end
{%- endmacro %}

{#- The latest plausible event time: the build's start (dbt's run_started_at,
    UTC, as in loaded_at) plus `days_ahead` (the var plausible_event_days_ahead). -#}
{% macro latest_plausible_event_time(days_ahead) -%}
  ({{ load_stamp() }} + make_dt_interval({{ days_ahead }}))
{%- endmacro %}

{#- Empty strings become nulls: REES46 writes a missing category_code, brand or
    session as an empty field. -#}
{% macro empty_as_null(column) -%}
  nullif(trim({{ column }}), '')
{%- endmacro %}

{#- True when the text is a plain non-negative integer. -#}
{% macro is_integer_text(column) -%}
  ({{ column }} rlike '^[0-9]+$')
{%- endmacro %}

{#- True when the text is a decimal number, optionally signed. -#}
{% macro is_decimal_text(column) -%}
  ({{ column }} rlike '^-?[0-9]+(\\.[0-9]+)?$')
{%- endmacro %}
