"""Jinja macros in bash_command: run dates, params, conf, variables, XCom."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG(
    dag_id="jinja_macros",
    start_date=datetime(2024, 1, 1),
    schedule="@daily",
    catchup=True,
    params={"table": "events", "limit": 100},
) as dag:
    dates = BashOperator(
        task_id="dates",
        bash_command=(
            "echo ds={{ ds }} nodash={{ ds_nodash }} ts={{ ts }} ts_nodash={{ ts_nodash }} "
            "ld={{ logical_date }} ed={{ execution_date }} "
            "start={{ data_interval_start }} end={{ data_interval_end }}"
        ),
    )
    week_later = BashOperator(task_id="week_later", bash_command="echo {{ macros.ds_add(ds, 7) }}")
    formatted = BashOperator(task_id="formatted", bash_command="echo {{ execution_date.strftime('%Y/%m') }}")
    params = BashOperator(
        task_id="params",
        bash_command="echo {{ params.table }} {{ params.limit }} {{ dag_run.conf.get('region', 'eu') }} {{ dag_run.conf['mode'] }}",
    )
    variables = BashOperator(task_id="variables", bash_command="echo {{ var.value.bucket }} {{ var.json.settings.path }}")
    pull = BashOperator(
        task_id="pull",
        bash_command="echo {{ ti.xcom_pull(task_ids='dates') }} {{ task_instance.xcom_pull(task_ids='params', key='return_value') }}",
    )
    loop = BashOperator(
        task_id="jinja_block",
        bash_command="{% for i in range(3) %}echo {{ i }};{% endfor %}",
    )
    dates >> [week_later, formatted, params] >> variables >> pull >> loop
