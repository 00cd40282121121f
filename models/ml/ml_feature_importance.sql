{{ config(materialized='view') }}

{#- What drives each forecast model that scores now: its importance records
    in ml_training_runs (the models of ml_model_metrics), as columns. -#}

with training_runs as (

    select
        task,
        model,
        model_version,
        record,
        item,
        position,
        measure,
        value,
        text
    from {{ ref('ml_training_runs') }}
    where record = 'importance'

),

current_models as (

    select model_version from {{ ref('ml_model_metrics') }}

),

final as (

    select
        training_runs.task,
        training_runs.model,
        training_runs.item as feature,
        {{ run_measure('importance') }},
        {{ run_measure('importance_type', 'string') }},
        training_runs.position as rank,
        training_runs.model_version
    from training_runs
    left semi join current_models
        on training_runs.model_version = current_models.model_version
    group by
        training_runs.task,
        training_runs.model,
        training_runs.item,
        training_runs.position,
        training_runs.model_version

)

select * from final
