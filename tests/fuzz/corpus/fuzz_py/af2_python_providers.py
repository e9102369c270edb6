"""PythonOperator and cloud/SQL provider operators: these become stubs."""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.python import PythonOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateObjectOperator
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.providers.google.cloud.operators.bigquery import BigQueryInsertJobOperator
from airflow.providers.postgres.operators.postgres import PostgresOperator
from airflow.providers.snowflake.operators.snowflake import SnowflakeOperator

BUCKET = "my-bucket"


def process(ds, **kwargs):
    rows = kwargs["ti"].xcom_pull(task_ids="wait")
    print(ds, rows)


with DAG("providers", start_date=datetime(2023, 5, 1), schedule="@daily", catchup=False,
         template_searchpath=["/opt/sql"]) as dag:
    wait = S3KeySensor(task_id="wait", bucket_key=f"s3://{BUCKET}/in/{{{{ ds }}}}.csv", aws_conn_id="aws_default")
    write = S3CreateObjectOperator(task_id="write", s3_bucket=BUCKET, s3_key="out/{{ ds }}.txt", data="hello")
    bq = BigQueryInsertJobOperator(
        task_id="bq",
        configuration={"query": {"query": "SELECT 1", "useLegacySql": False}},
        location="EU",
    )
    pg = PostgresOperator(task_id="pg", postgres_conn_id="warehouse", sql="sql/load.sql")
    sf = SnowflakeOperator(task_id="sf", sql="CALL refresh()", snowflake_conn_id="sf",
                           execution_timeout=timedelta(minutes=45))
    py = PythonOperator(task_id="process", python_callable=process, op_kwargs={"table": "events"})
    wait >> write >> [bq, pg, sf] >> py
