{#-
  Checks the project's vars and the raw path before anything runs (first
  on-run-start hook): a wrong value stops the invocation with one line naming
  every problem, before any table is touched. Rules, by var:

    whole numbers > 0     session and ML windows, fold counts, peak hours
    numbers               the behavioural segments' z-score thresholds
    whole numbers >= 0    plausible_event_days_ahead
    YYYY-MM-DD            plausible_event_date_min; rfm_analysis_date may
                          also be null (real calendar dates)
    no quote characters   the raw path (it is written into SQL literals);
                          spaces are fine
-#}
{% macro validate_project_vars() %}
  {{ return(adapter.dispatch('validate_project_vars', 'rees46')()) }}
{% endmacro %}

{% macro default__validate_project_vars() %}
  {%- set problems = [] -%}
  {%- set whole_numbers = {
      'session_inactivity_minutes': 1, 'peak_hour_count': 1, 'ml_feature_window_days': 1,
      'ml_label_window_days': 1, 'ml_cart_label_window_hours': 1, 'ml_cart_test_days': 1,
      'ml_rolling_origin_folds': 1, 'ml_rolling_origin_step_days': 1, 'ml_retrain_every_days': 1,
      'rec_top_n': 1, 'rec_active_days': 1,
      'rec_repeat_purchase_min_buyers': 1, 'plausible_event_days_ahead': 0} -%}
  {%- for name, minimum in whole_numbers.items() -%}
    {%- set value = var(name) | string -%}
    {%- if not modules.re.fullmatch('[0-9]+', value.strip()) or (value | int) < minimum -%}
      {%- do problems.append(name ~ " must be a whole number" ~ (" above 0" if minimum == 1 else ", 0 or more")
          ~ ", got '" ~ value ~ "'") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for name in ['hi_risk_min_z_carts', 'churn_min_z_views', 'heavy_buyer_min_z_revenue',
                   'engaged_min_z_sessions', 'rec_repeat_purchase_min_share'] -%}
    {%- set value = var(name) | string -%}
    {%- if not modules.re.fullmatch('-?[0-9]+([.][0-9]+)?', value.strip()) -%}
      {%- do problems.append(name ~ " must be a number, got '" ~ value ~ "'") -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for name, nullable in [('rfm_analysis_date', true), ('plausible_event_date_min', false)] -%}
    {%- set value = var(name) -%}
    {%- if value or not nullable -%}
      {%- set text = value | string -%}
      {%- set valid = modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
      {%- if valid -%}
        {%- set parts = text.split('-') -%}
        {%- set valid = (parts[1] | int) >= 1 and (parts[1] | int) <= 12 and (parts[2] | int) >= 1
            and (parts[2] | int) <= [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][(parts[1] | int) - 1] -%}
      {%- endif -%}
      {%- if not valid -%}
        {%- do problems.append(name ~ " must be a date YYYY-MM-DD" ~ (" or null" if nullable else "")
            ~ ", got '" ~ text ~ "'") -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set path = raw_events_path() -%}
  {%- if "'" in path or '"' in path or '\\' in path -%}
    {%- do problems.append("the raw path must not contain quotes or backslashes, got " ~ path) -%}
  {%- endif -%}
  {%- if problems -%}
    {{ exceptions.raise_compiler_error("Invalid configuration: " ~ problems | join('; ')) }}
  {%- endif -%}
  select 1
{% endmacro %}
