{{ config(materialized='view') }}

{#-
  The metrics of the models that score now: the metrics records of the
  latest training run of each task in ml_training_runs, one row per task x
  model x evaluation (x fold), turned back into columns. A build that did not
  train a task shows that task's saved models with status `reused`.
-#}

with training_runs as (

    select
        run_id,
        trained_at,
        task,
        model,
        evaluation,
        fold,
        model_version,
        record,
        measure,
        value,
        text
    from {{ ref('ml_training_runs') }}

),

latest_runs as (

    select
        task,
        max(run_id) as run_id
    from training_runs
    group by task

),

metrics as (

    select training_runs.*
    from training_runs
    inner join latest_runs
        on training_runs.task = latest_runs.task and training_runs.run_id = latest_runs.run_id
    where training_runs.record = 'metrics'

),

pivoted as (

    select
        task,
        model,
        evaluation,
        fold,
        {{ run_measure('auc_roc') }},
        {{ run_measure('pr_auc') }},
        {{ run_measure('log_loss') }},
        {{ run_measure('brier') }},
        {{ run_measure('brier_uncalibrated') }},
        {{ run_measure('accuracy') }},
        {{ run_measure('precision') }},
        {{ run_measure('recall') }},
        {{ run_measure('threshold') }},
        {{ run_measure('k', 'bigint') }},
        {{ run_measure('precision_at_k') }},
        {{ run_measure('recall_at_k') }},
        {{ run_measure('ndcg_at_k') }},
        {{ run_measure('n_train', 'bigint') }},
        {{ run_measure('n_test', 'bigint') }},
        {{ run_measure('train_sample_rate') }},
        {{ run_measure('test_sample_rate') }},
        {{ run_measure('positive_rate_test') }},
        {{ run_measure('train_start', 'date') }},
        {{ run_measure('train_end', 'date') }},
        {{ run_measure('test_start', 'date') }},
        {{ run_measure('test_end', 'date') }},
        {{ run_measure('parameters', 'string') }},
        model_version,
        trained_at,
        {{ run_measure('status', 'string') }}
    from metrics
    group by task, model, evaluation, fold, model_version, trained_at

),

final as (

    select
        task,
        model,
        evaluation,
        fold,
        auc_roc,
        pr_auc,
        log_loss,
        brier,
        brier_uncalibrated,
        accuracy,
        precision,
        recall,
        threshold,
        k,
        precision_at_k,
        recall_at_k,
        ndcg_at_k,
        n_train,
        n_test,
        train_sample_rate,
        test_sample_rate,
        positive_rate_test,
        train_start,
        train_end,
        test_start,
        test_end,
        parameters,
        model_version,
        trained_at,
        -- trained by an earlier build: the saved model, reused
        case
            when status = 'trained' and trained_at < {{ load_stamp() }} then 'reused'
            else status
        end as status
    from pivoted

)

select * from final
