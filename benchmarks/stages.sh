# Helpers the staged benchmark scripts source (after `cd` to the repository root): which stages run, their wall
# times, and where a finished training run leaves its checkpoint. The caller sets STAGES (comma-separated stage
# names) and TIMES (the timings file) before calling them.
want() { [[ ",$STAGES," == *",$1,"* ]]; }
timed() {  # timed STAGE WHAT COMMAND...: run it, append "stage, what, wall seconds" to $TIMES, return its status
  local stage=$1 what=$2 t0 rc=0; shift 2; t0=$(date +%s.%N)
  "$@" || rc=$?
  awk -v s="$stage" -v w="$what" -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%s\t%s\t%.1f\n", s, w, t1 - t0 }' >> "$TIMES"
  return $rc
}
final() { printf '%s/checkpoints/step_%08d' "$1" "$2"; }  # the checkpoint a finished run of N steps leaves
