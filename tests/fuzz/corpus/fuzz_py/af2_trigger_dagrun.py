"""TriggerDagRunOperator: a controller that starts a target DAG with conf."""
import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.trigger_dagrun import TriggerDagRunOperator

with DAG(
    dag_id="controller",
    start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
    catchup=False,
    schedule="@once",
    tags=["example"],
) as dag:
    trigger = TriggerDagRunOperator(
        task_id="test_trigger_dagrun",
        trigger_dag_id="target",
        conf={"message": "Hello World", "day": "{{ ds }}"},
        wait_for_completion=True,
        poke_interval=10,
        allowed_states=["success"],
        failed_states=["failed"],
        logical_date="{{ logical_date }}",
        reset_dag_run=True,
    )
    after = BashOperator(task_id="after", bash_command="echo triggered")
    trigger >> after

with DAG(
    dag_id="target",
    start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
    catchup=False,
    schedule=None,
) as target:
    BashOperator(task_id="bash_task", bash_command='echo "Here is the message: $message"',
                 env={"message": '{{ dag_run.conf.get("message") }}'})
