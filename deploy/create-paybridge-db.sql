CREATE DATABASE paybridge OWNER airflow;
