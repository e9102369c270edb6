"""Setup and teardown tasks (Airflow 2.7+)."""
import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("setup_teardown", start_date=pendulum.datetime(2023, 8, 1, tz="UTC"), schedule=None, catchup=False) as dag:
    create = BashOperator(task_id="create_cluster", bash_command="echo create")
    work = BashOperator(task_id="work", bash_command="echo work")
    delete = BashOperator(task_id="delete_cluster", bash_command="echo delete")
    create >> work >> delete.as_teardown(setups=create)
    create.as_setup()
