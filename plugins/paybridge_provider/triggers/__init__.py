"""Deferrable triggers: waits that run in Airflow's triggerer, holding no worker slot."""
