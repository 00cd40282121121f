{{ config(materialized='view') }}

{#- Reliability of the probabilities of the models that score now (and of
    their same-window twins) on their test rows: the reliability records of
    the latest training run in ml_training_runs, as columns. -#}

with training_runs as (

    select
        task,
        model,
        evaluation,
        model_version,
        item,
        position,
        measure,
        value,
        text
    from {{ ref('ml_training_runs') }}
    where record = 'reliability'

),

current_models as (

    select model_version from {{ ref('ml_model_metrics') }}

),

final as (

    select
        training_runs.task,
        training_runs.model,
        training_runs.evaluation,
        training_runs.item = 'calibrated' as calibrated,
        training_runs.position as bin,
        {{ run_measure('mean_predicted') }},
        {{ run_measure('observed_rate') }},
        {{ run_measure('rows', 'bigint') }},
        training_runs.model_version
    from training_runs
    left semi join current_models
        on training_runs.model_version = current_models.model_version
    group by
        training_runs.task,
        training_runs.model,
        training_runs.evaluation,
        training_runs.item,
        training_runs.position,
        training_runs.model_version

)

select * from final
