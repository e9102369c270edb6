# Airflow 1.10 style: DAG assigned to a name, tasks attached with dag=dag,
# days_ago, schedule_interval and the old operator modules.
from airflow import DAG
from airflow.operators.bash_operator import BashOperator
from airflow.operators.dummy_operator import DummyOperator
from airflow.utils.dates import days_ago
from datetime import timedelta

args = {
    'owner': 'airflow',
    'start_date': days_ago(2),
    'email': ['ops@example.com'],
    'email_on_failure': False,
    'retries': 1,
    'retry_delay': timedelta(minutes=5),
}

dag = DAG(
    'legacy_assign',
    default_args=args,
    description='assign form with dag=dag',
    schedule_interval='0 6 * * *',
    catchup=True,
)

run_this_first = DummyOperator(task_id='run_this_first', dag=dag)
print_date = BashOperator(task_id='print_date', bash_command='date', dag=dag)
sleep = BashOperator(task_id='sleep', bash_command='sleep 5', retries=3, dag=dag)
templated = BashOperator(
    task_id='templated',
    depends_on_past=False,
    bash_command="echo {{ ds }} {{ macros.ds_add(ds, 7) }} {{ params.my_param }}",
    params={'my_param': 'Parameter I passed in'},
    dag=dag,
)

run_this_first.set_downstream(print_date)
print_date.set_downstream([sleep, templated])
