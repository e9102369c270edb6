from airflow import DAG
name = "café"
