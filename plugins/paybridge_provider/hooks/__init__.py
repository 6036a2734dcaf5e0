"""Hooks: an Airflow Connection -> the settings a PayBridge connector or the store needs."""
