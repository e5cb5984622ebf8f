#!/usr/bin/env bash
# Run mode: Debian's prometheus as an Aspire executable. SCRAPE_GATEWAY, SCRAPE_WORKER<i> and SCRAPE_PREFILL<i> (host:port) and
# RULES_FILE (the recording rules and alerts) come from the AppHost; config and rules are checked with promtool, and
# Prometheus keeps exemplars.
set -euo pipefail
dir="$(mktemp -d)"
{
  echo "global:"
  echo "  scrape_interval: 5s"
  echo "  evaluation_interval: 5s"
  echo "rule_files:"
  echo "  - '${RULES_FILE}'"
  echo "scrape_configs:"
  echo "  - job_name: gateway"
  echo "    static_configs:"
  echo "      - targets: ['${SCRAPE_GATEWAY}']"
  echo "  - job_name: worker"
  echo "    static_configs:"
  echo "      - targets: [$(env | sed -En 's/^SCRAPE_(WORKER|PREFILL)[0-9]*=(.*)$/'"'"'\2'"'"'/p' | paste -sd, -)]"
} >"$dir/prometheus.yml"
promtool check config "$dir/prometheus.yml" >/dev/null
promtool check rules "${RULES_FILE}" >/dev/null
exec prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
  --web.listen-address="127.0.0.1:${PROM_PORT}" --enable-feature=exemplar-storage
