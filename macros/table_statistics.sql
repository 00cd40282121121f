{#-
  Post-hook of every model: table statistics (size and row count) for
  `dbt docs`; Spark keeps none by itself, or a stale one, so the catalog would
  show no size and "0 rows".

  Every table is analysed, the event-level facts too: without column
  statistics, ANALYZE counts rows from the Parquet footers and sums file
  sizes, so it reads no column data whatever the table's size. (`noscan`, size
  only, would leave a stale row count behind on incremental tables.) Views have
  no statistics. A table model is a view over its build table (the adapter's
  atomic table materialization): the build table is analysed, and the adapter
  shows its statistics for the model in the catalog.
-#}
{% macro compute_table_statistics() %}
  {%- if config.get('materialized') in ('table', 'incremental') -%}
    analyze table {{ sparklocal_statistics_relation(this) }} compute statistics
  {%- endif -%}
{% endmacro %}
