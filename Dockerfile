# PayBridge on the official Airflow 3 image: the library, connectors and DAGs in one image.
FROM apache/airflow:3.3.2-python3.11
USER root
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
USER airflow
WORKDIR /opt/paybridge
COPY --chown=airflow:root pyproject.toml uv.lock README.md ./
COPY --chown=airflow:root paybridge ./paybridge
COPY --chown=airflow:root connectors ./connectors
COPY --chown=airflow:root reconciliation ./reconciliation
COPY --chown=airflow:root plugins ./plugins
COPY --chown=airflow:root simulators ./simulators
RUN pip install --no-cache-dir uv==0.13.8 \
 && uv export --frozen --no-dev --no-hashes --no-emit-project > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps .
COPY --chown=airflow:root dags /opt/airflow/dags
