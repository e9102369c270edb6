from airflow import DAG


def f(n):
    f(n + 1)
    f(n + 2)


with DAG("recursion") as dag:
    f(0)
