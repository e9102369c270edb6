"""Python callables the front end translates to Lua: a branch on the logical date's
weekday, a short circuit on a param, a callable that only returns a constant, and one
that does real work (a stub)."""
from datetime import datetime

from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import BranchPythonOperator, PythonOperator, ShortCircuitOperator


def choose(**context):
    if context["logical_date"].weekday() < 5:
        return "weekday"
    return "weekend"


def answer():
    return 42


def work(path):
    with open(path) as f:
        return f.read()


with DAG("callables", start_date=datetime(2024, 1, 1), schedule="@daily", catchup=False,
         params={"go": True}) as dag:
    pick = BranchPythonOperator(task_id="pick", python_callable=choose)
    weekday = EmptyOperator(task_id="weekday")
    weekend = EmptyOperator(task_id="weekend")
    gate = ShortCircuitOperator(task_id="gate", python_callable=lambda **ctx: ctx["params"]["go"])
    const = PythonOperator(task_id="const", python_callable=answer)
    real = PythonOperator(task_id="real", python_callable=work, op_args=["/etc/hostname"])
    pick >> [weekday, weekend]
    gate >> const >> real
