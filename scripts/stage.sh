# Stage timing for the CI scripts (sourced): stage_start; ...; stage_end NAME prints "[time] NAME: Ns" and,
# when NETADJ_STAGE_LOG names a file, appends "NAME<TAB>N" to it for .ci/run's table.
stage_start() { _netadj_stage_t0=$(date +%s); }
stage_end() {
  local s=$(($(date +%s) - _netadj_stage_t0))
  printf '[time] %s: %ds\n' "$1" "$s" >&2
  [ -n "${NETADJ_STAGE_LOG:-}" ] && printf '%s\t%d\n' "$1" "$s" >>"$NETADJ_STAGE_LOG"
  return 0
}
