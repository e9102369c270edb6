from airflow.operators.bash import BashOperator

orphan = BashOperator(task_id="orphan", bash_command="echo")
