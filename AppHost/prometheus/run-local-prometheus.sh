#!/usr/bin/env bash
# Run mode: Debian's prometheus as an Aspire executable. SCRAPE_GATEWAY, SCRAPE_WORKER<i> and SCRAPE_PREFILL<i> (host:port) come from
# the AppHost; the config is written, checked with promtool, and Prometheus keeps exemplars.
set -euo pipefail
dir="$(mktemp -d)"
{
  echo "global:"
  echo "  scrape_interval: 5s"
  echo "scrape_configs:"
  echo "  - job_name: gateway"
  echo "    static_configs:"
  echo "      - targets: ['${SCRAPE_GATEWAY}']"
  echo "  - job_name: worker"
  echo "    static_configs:"
  echo "      - targets: [$(env | sed -En 's/^SCRAPE_(WORKER|PREFILL)[0-9]*=(.*)$/'"'"'\2'"'"'/p' | paste -sd, -)]"
} >"$dir/prometheus.yml"
promtool check config "$dir/prometheus.yml" >/dev/null
exec prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
  --web.listen-address="127.0.0.1:${PROM_PORT}" --enable-feature=exemplar-storage
