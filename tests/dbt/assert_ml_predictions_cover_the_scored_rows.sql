-- One prediction per `score` row of the purchase training set when the task
-- was trained; none when it was skipped (too little data).
with trained as (

    select count(*) > 0 as is_trained
    from {{ ref('ml_model_metrics') }}
    where task = 'purchase_propensity' and status not like 'skipped%'

),

expected as (

    select count(*) as score_rows
    from {{ ref('ml_purchase_training_set') }}
    where split = 'score'

),

actual as (

    select count(*) as predictions
    from {{ ref('ml_purchase_predictions') }}

)

select
    trained.is_trained,
    expected.score_rows,
    actual.predictions
from trained
cross join expected
cross join actual
where
    (trained.is_trained and actual.predictions != expected.score_rows)
    or (not trained.is_trained and actual.predictions != 0)
