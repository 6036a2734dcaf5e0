"""PayBridge's Airflow provider: hooks, connection types, DAG factories and alerts.

A namespaced package (never a module under Airflow's ``plugins_folder``) so that nothing here
can shadow ``paybridge``, ``netsuite`` or another real package; Airflow finds it through the
``apache_airflow_provider`` entry point.
"""
