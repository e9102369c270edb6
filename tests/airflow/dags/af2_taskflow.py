"""TaskFlow ETL (Airflow 2): @dag with parameters, @task, XCom passing."""
import json

import pendulum
from airflow.decorators import dag, task


@dag(
    schedule=None,
    start_date=pendulum.datetime(2021, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example"],
    params={"threshold": 100},
)
def tutorial_taskflow_api(region="eu", limit=10):
    """The extract, transform, load pipeline of the tutorial."""

    @task()
    def extract():
        data_string = '{"1001": 301.27, "1002": 433.21, "1003": 502.22}'
        return json.loads(data_string)

    @task(multiple_outputs=True, retries=2)
    def transform(order_data_dict: dict):
        total_order_value = 0
        for value in order_data_dict.values():
            total_order_value += value
        return {"total_order_value": total_order_value}

    @task
    def load(total_order_value: float, region: str):
        print(f"Total order value is: {total_order_value:.2f} in {region}")

    @task
    def constant():
        return "done"

    order_data = extract()
    order_summary = transform(order_data)
    load(order_summary["total_order_value"], region=region)
    constant() >> extract.override(task_id="extract_again")()


tutorial_taskflow_api()
