"""ShortCircuitOperator (both modes) and LatestOnlyOperator."""
import datetime

from airflow.models.dag import DAG
from airflow.operators.empty import EmptyOperator
from airflow.operators.latest_only import LatestOnlyOperator
from airflow.operators.python import ShortCircuitOperator
from airflow.utils.trigger_rule import TriggerRule

with DAG(
    dag_id="short_circuit_latest_only",
    schedule=datetime.timedelta(hours=4),
    start_date=datetime.datetime(2021, 1, 1),
    catchup=False,
) as dag:
    latest_only = LatestOnlyOperator(task_id="latest_only")
    notify = EmptyOperator(task_id="notify")
    latest_only >> notify

    cond_true = ShortCircuitOperator(task_id="condition_is_true", python_callable=lambda: True)
    cond_false = ShortCircuitOperator(
        task_id="condition_is_false",
        python_callable=lambda **kw: kw["params"].get("enabled", False),
        ignore_downstream_trigger_rules=False,
    )
    ds_true = [EmptyOperator(task_id=f"true_{i}") for i in [1, 2]]
    ds_false = [EmptyOperator(task_id=f"false_{i}") for i in [1, 2]]
    after = EmptyOperator(task_id="after_all", trigger_rule=TriggerRule.ALL_DONE)

    cond_true >> ds_true[0] >> ds_true[1]
    cond_false >> ds_false[0] >> ds_false[1] >> after
