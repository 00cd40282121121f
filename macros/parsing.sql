{#- Helpers for turning raw CSV fields into typed columns. -#}

{#- The first of `accepted_event_time_formats` that parses the text, as a UTC
    timestamp (the session time zone is UTC); null when none does. -#}
{% macro parse_event_time(column) -%}
  coalesce(
    {%- for fmt in var('accepted_event_time_formats') %}
    to_timestamp({{ column }}, "{{ fmt }}"){{ "," if not loop.last }}
    {%- endfor %}
  )
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
