"""BranchPythonOperator with callables the importer can translate, and a join."""
from datetime import datetime

from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import BranchPythonOperator, PythonOperator


def choose_constant():
    return "path_a"


def choose_by_weekday(**context):
    """Weekdays take path_a, weekends path_b."""
    if context["logical_date"].weekday() < 5:
        return "path_a"
    return "path_b"


def choose_by_param(params, **kwargs):
    return "path_a" if params["mode"] == "fast" else ["path_b", "path_c"]


def not_translatable(ti):
    value = ti.xcom_pull(task_ids="start")
    return "path_a" if value else "path_b"


with DAG(
    dag_id="branching",
    start_date=datetime(2024, 1, 1),
    schedule="@daily",
    catchup=False,
    params={"mode": "fast"},
) as dag:
    start = PythonOperator(task_id="start", python_callable=lambda: 42)
    constant = BranchPythonOperator(task_id="constant", python_callable=choose_constant)
    weekday = BranchPythonOperator(task_id="weekday", python_callable=choose_by_weekday)
    by_param = BranchPythonOperator(task_id="by_param", python_callable=choose_by_param)
    opaque = BranchPythonOperator(task_id="opaque", python_callable=not_translatable)
    path_a = EmptyOperator(task_id="path_a")
    path_b = EmptyOperator(task_id="path_b")
    path_c = EmptyOperator(task_id="path_c")
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")

    start >> [constant, weekday, by_param, opaque]
    for branch in [constant, weekday, by_param, opaque]:
        branch >> [path_a, path_b, path_c]
    [path_a, path_b, path_c] >> join
