{{ config(materialized='view') }}

{#-
  The rolling-origin folds of ml_model_metrics summarised per task and model,
  next to the single forecast figure: how much a model's quality moves from
  one origin to the next.
-#}

with metrics as (

    select
        task,
        model,
        evaluation,
        fold,
        auc_roc,
        pr_auc,
        brier
    from {{ ref('ml_model_metrics') }}

),

folds as (

    select
        task,
        model,
        count(*) as folds,
        avg(auc_roc) as auc_roc_mean,
        stddev_samp(auc_roc) as auc_roc_std,
        min(auc_roc) as auc_roc_min,
        max(auc_roc) as auc_roc_max,
        avg(pr_auc) as pr_auc_mean,
        stddev_samp(pr_auc) as pr_auc_std,
        avg(brier) as brier_mean,
        stddev_samp(brier) as brier_std
    from metrics
    where evaluation = 'rolling_origin'
    group by task, model

),

forecast as (

    select
        task,
        model,
        auc_roc,
        pr_auc,
        brier
    from metrics
    where evaluation = 'forecast'

),

final as (

    select
        folds.task,
        folds.model,
        folds.folds,
        forecast.auc_roc as forecast_auc_roc,
        folds.auc_roc_mean,
        folds.auc_roc_std,
        folds.auc_roc_min,
        folds.auc_roc_max,
        forecast.pr_auc as forecast_pr_auc,
        folds.pr_auc_mean,
        folds.pr_auc_std,
        forecast.brier as forecast_brier,
        folds.brier_mean,
        folds.brier_std
    from folds
    left join forecast
        on folds.task = forecast.task
        and folds.model = forecast.model

)

select * from final
