{{ config(materialized='view') }}

{#- How good the product recommendations are: the recommenders' rows of
    ml_model_metrics (the latest evaluation), with their own columns only. -#}

with model_metrics as (

    select
        task,
        model,
        evaluation,
        k,
        precision_at_k,
        recall_at_k,
        ndcg_at_k,
        n_train,
        n_test,
        train_start,
        train_end,
        test_start,
        test_end,
        model_version,
        trained_at
    from {{ ref('ml_model_metrics') }}
    where task = 'product_recommendation'

)

select * from model_metrics
