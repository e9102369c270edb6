# Airflow 1.10 with PythonOperator(provide_context=True), contrib operators and <<.
import datetime as dt

from airflow.models import DAG
from airflow.operators.python_operator import PythonOperator, BranchPythonOperator
from airflow.contrib.operators.ssh_operator import SSHOperator
from airflow.operators.subdag_operator import SubDagOperator
from airflow.utils.trigger_rule import TriggerRule

DAG_NAME = "legacy_python"


def push(**kwargs):
    kwargs["ti"].xcom_push(key="value", value=1)


def choose(**kwargs):
    return "remote" if kwargs["execution_date"].day == 1 else "skip_remote"


dag = DAG(
    dag_id=DAG_NAME,
    default_args={"owner": "legacy", "start_date": dt.datetime(2019, 1, 1), "retries": 2,
                  "retry_delay": dt.timedelta(minutes=1)},
    schedule_interval="@daily",
    catchup=False,
)

push_task = PythonOperator(task_id="push", python_callable=push, provide_context=True, dag=dag)
branch = BranchPythonOperator(task_id="branch", python_callable=choose, provide_context=True, dag=dag)
remote = SSHOperator(task_id="remote", ssh_conn_id="box", command="uptime", dag=dag)
skip_remote = PythonOperator(task_id="skip_remote", python_callable=lambda: None, dag=dag)
section = SubDagOperator(task_id="section", subdag=None, dag=dag)
final = PythonOperator(task_id="final", python_callable=push, trigger_rule=TriggerRule.ONE_SUCCESS, dag=dag)

branch << push_task
remote << branch
skip_remote << branch
final << [remote, skip_remote]
section.set_upstream(final)
