{#- Nothing to override yet: dbt-spark's spark__ macros apply through the plugin
    dependency. Python models must set file_format (dbt-spark defaults them to delta). -#}
