# The one A/B harness of the benchmark scripts (sourced by lib.sh).
#
#   compare ROUNDS "NAME=COMMAND" "NAME=COMMAND" …
#
# Runs the arms in counterbalanced rounds: A B in odd rounds, B A in even ones (with more arms, forward then
# reversed), so that neither side always runs first, warmer or later. Each COMMAND prints one line whose first field
# is the figure compared (higher or lower, as the caller reads it); the rest of the line is shown beside it. Prints
# every round with the machine's idle CPU just before it, then each arm's median, spread (min–max) and its ratio of
# medians to the first arm.
idle_cpu() { vmstat 1 2 | tail -1 | awk '{print $15}'; }

compare() {
  local rounds=$1; shift
  local names=() commands=() values=() i round
  for arm in "$@"; do names+=("${arm%%=*}"); commands+=("${arm#*=}"); values+=(""); done
  for round in $(seq 1 "$rounds"); do
    local order=($(seq 0 $(( ${#names[@]} - 1 ))))
    (( round % 2 == 0 )) && order=($(printf '%s\n' "${order[@]}" | tac))
    echo "round $round (idle CPU $(idle_cpu)%):"
    for i in "${order[@]}"; do
      local line
      line=$(eval "${commands[$i]}")
      values[$i]+="${line%% *} "
      echo "  ${names[$i]}: $line"
    done
  done
  local first_median=""
  for i in "${!names[@]}"; do
    local summary
    summary=$(tr ' ' '\n' <<<"${values[$i]}" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%g %g %g", m, v[1], v[NR]}')
    read -r median low high <<<"$summary"
    first_median=${first_median:-$median}
    echo "${names[$i]}: median $median over $rounds rounds (spread $low–$high), ratio of medians to ${names[0]} $(awk -v a="$median" -v b="$first_median" 'BEGIN {printf "%.3f", a / b}')"
  done
}
