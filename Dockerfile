FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1
# torch first and pinned (see scripts/setup), from PyTorch's CPU wheel index:
# the default index serves the CUDA build on Linux (several GB).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md ./
COPY bot bot
COPY knowledge knowledge
COPY retrieval retrieval
COPY handlers handlers
COPY vntext vntext
COPY console console
RUN pip install .
# Convert the bundled model and build the index at image build time, so the
# container starts answering in seconds. The data volume is seeded from here.
ENV CIVICBOT_DATA_DIR=/opt/civicbot-data
RUN civicbot index
EXPOSE 8080
CMD ["civicbot", "run"]
