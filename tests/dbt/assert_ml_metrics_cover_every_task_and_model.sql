-- Every task x model has a forecast row (trained, reused or skipped with a
-- reason), and a trained purchase task also has its same_window rows.
with expected as (

    select
        tasks.task,
        models.model,
        evaluations.evaluation
    from (values ('purchase_propensity'), ('cart_conversion')) as tasks (task)
    cross join (values ('baseline'), ('logistic_regression'), ('xgboost')) as models (model)
    cross join (values ('forecast'), ('same_window')) as evaluations (evaluation)

),

task_status as (

    select
        task,
        max(case when status like 'skipped%' then 1 else 0 end) as skipped
    from {{ ref('ml_model_metrics') }}
    group by task

),

required as (

    select
        expected.task,
        expected.model,
        expected.evaluation
    from expected
    left join task_status
        on expected.task = task_status.task
    where
        expected.evaluation = 'forecast'
        or (expected.task = 'purchase_propensity' and coalesce(task_status.skipped, 0) = 0)

)

select
    required.task,
    required.model,
    required.evaluation
from required
left join {{ ref('ml_model_metrics') }} as metrics
    on required.task = metrics.task
    and required.model = metrics.model
    and required.evaluation = metrics.evaluation
where metrics.task is null
