#!/bin/sh
# Create the MLflow and Prefect roles and databases, each role owning its own database.
# Runs once, from /docker-entrypoint-initdb.d, when the PostgreSQL data volume is empty.
# The names and passwords come from the environment (see .env.example); psql quotes them.
set -eu

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v mlflow_db="${MLFLOW_DB:?}" -v mlflow_password="${MLFLOW_DB_PASSWORD:?}" \
    -v prefect_db="${PREFECT_DB:?}" -v prefect_password="${PREFECT_DB_PASSWORD:?}" <<'SQL'
CREATE ROLE :"mlflow_db" LOGIN PASSWORD :'mlflow_password';
CREATE DATABASE :"mlflow_db" OWNER :"mlflow_db";
REVOKE ALL ON DATABASE :"mlflow_db" FROM PUBLIC;
CREATE ROLE :"prefect_db" LOGIN PASSWORD :'prefect_password';
CREATE DATABASE :"prefect_db" OWNER :"prefect_db";
REVOKE ALL ON DATABASE :"prefect_db" FROM PUBLIC;
SQL
