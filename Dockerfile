# PayBridge on the official Airflow 3 image: the library, the provider and the DAGs in one image.
# `production` (the default target) carries no Node.js and no simulators; `dev` adds the local
# chain (anvil, from the pinned npm package) and the ERP simulators for the compose dev profile.
FROM apache/airflow:3.3.2-python3.11 AS production
USER root
# WeasyPrint (report.pdf) needs pango and a font from the OS
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
USER airflow
# glibc backs its large blocks with transparent huge pages (THP "madvise" hosts): a 1M-request
# reconciliation faults a third as many pages (paybridge_reconciliation/huge_pages.py)
ENV GLIBC_TUNABLES=glibc.malloc.hugetlb=1
WORKDIR /opt/paybridge
COPY --chown=airflow:root pyproject.toml uv.lock README.md ./
COPY --chown=airflow:root paybridge ./paybridge
COPY --chown=airflow:root plugins ./plugins
COPY --chown=airflow:root connectors ./connectors
COPY --chown=airflow:root reconciliation ./reconciliation
RUN pip install --no-cache-dir uv==0.13.8 \
 && uv export --frozen --no-dev --no-hashes --no-emit-project > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps .
COPY --chown=airflow:root dags /opt/airflow/dags

FROM production AS dev
USER root
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow:root package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY --chown=airflow:root simulators ./simulators
ENV PYTHONPATH=/opt/paybridge PATH="/opt/paybridge/node_modules/.bin:${PATH}"
