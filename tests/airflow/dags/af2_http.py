"""HTTP in Airflow 2: SimpleHttpOperator and HttpSensor with response checks."""
import json
from datetime import datetime

from airflow import DAG
from airflow.providers.http.operators.http import SimpleHttpOperator
from airflow.providers.http.sensors.http import HttpSensor

with DAG("http_simple", start_date=datetime(2023, 1, 1), schedule=None, catchup=False) as dag:
    ready = HttpSensor(
        task_id="api_ready",
        http_conn_id="orders_api",
        endpoint="health",
        request_params={},
        response_check=lambda response: "ok" in response.text,
        poke_interval=5,
    )
    post = SimpleHttpOperator(
        task_id="post_op",
        http_conn_id="orders_api",
        endpoint="orders",
        data=json.dumps({"priority": 5}),
        headers={"Content-Type": "application/json"},
        response_check=lambda response: response.json()["json"]["priority"] == 5,
    )
    get = SimpleHttpOperator(
        task_id="get_op",
        method="GET",
        http_conn_id="orders_api",
        endpoint="orders/{{ ds }}",
        data={"param1": "value1", "param2": "value2"},
        log_response=True,
    )
    ready >> post >> get
