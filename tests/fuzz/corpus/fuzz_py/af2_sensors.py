"""Sensors: time delta, date time, time of day, file, external task (Airflow 2)."""
from datetime import datetime, time, timedelta

from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.sensors.date_time import DateTimeSensor
from airflow.sensors.external_task import ExternalTaskSensor
from airflow.sensors.filesystem import FileSensor
from airflow.sensors.time_delta import TimeDeltaSensor
from airflow.sensors.time_sensor import TimeSensor

with DAG(
    "sensors",
    start_date=datetime(2024, 2, 1),
    schedule="30 2 * * *",
    catchup=False,
    default_args={"poke_interval": 120, "timeout": timedelta(hours=6)},
) as dag:
    wait_delta = TimeDeltaSensor(task_id="wait_one_hour", delta=timedelta(hours=1), mode="reschedule")
    wait_until = DateTimeSensor(
        task_id="wait_until_noon",
        target_time="{{ data_interval_end.replace(hour=12) }}",
    )
    wait_time = TimeSensor(task_id="wait_for_six", target_time=time(6, 0), soft_fail=True)
    wait_file = FileSensor(
        task_id="wait_for_file",
        filepath="/data/incoming/{{ ds_nodash }}.csv",
        fs_conn_id="fs_default",
        poke_interval=30,
        timeout=60 * 60,
    )
    wait_upstream = ExternalTaskSensor(
        task_id="wait_for_upstream",
        external_dag_id="etl_basic",
        external_task_id="load",
        execution_delta=timedelta(minutes=30),
        allowed_states=["success"],
        failed_states=["failed", "skipped"],
    )
    go = EmptyOperator(task_id="go")
    [wait_delta, wait_until, wait_time, wait_file, wait_upstream] >> go
