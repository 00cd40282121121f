{{ config(materialized='view') }}

{#- ROC and precision-recall curve points of the models of the latest
    training run on their test rows: the curve records of ml_training_runs,
    as columns. -#}

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
    where record = 'curve'

),

current_models as (

    select model_version from {{ ref('ml_model_metrics') }}

),

final as (

    select
        training_runs.task,
        training_runs.model,
        training_runs.evaluation,
        training_runs.item as curve,
        training_runs.position as point,
        {{ run_measure('x') }},
        {{ run_measure('y') }},
        {{ run_measure('threshold') }},
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
