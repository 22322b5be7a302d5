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
# eval_run NAME CHECKPOINT TASKS [EVAL ARGS...]: `vlastack eval` of CHECKPOINT on TASKS (comma-separated) into
# $OUT/eval_NAME.json and the report $OUT/report_NAME (resumable); skipped when that JSON already holds exactly those
# tasks. The caller sets PY, VLA (the vlastack command as an array), OUT, EVAL_EPISODES, WORKERS and MAX_STEPS.
eval_run() {
  local name=$1 ckpt=$2 tasks=$3 json="$OUT/eval_$1.json"; shift 3
  if "$PY/python" -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(sorted(s["per_task"]) != sorted(sys.argv[2].split(",")))' \
    "$json" "$tasks" 2>/dev/null; then echo "eval $name: done"; return; fi
  echo "eval $name: $tasks x $EVAL_EPISODES $*"
  timed eval "$name" "${VLA[@]}" eval --checkpoint "$ckpt" --tasks "$tasks" --episodes "$EVAL_EPISODES" --workers "$WORKERS" \
    --max-steps "$MAX_STEPS" --videos 0 --json --no-progress --resume --report "$OUT/report_$name" "$@" > "$json.tmp" \
    2> "$OUT/eval_$name.err" || { tail -n 30 "$OUT/eval_$name.err" >&2; exit 1; }
  mv "$json.tmp" "$json"
}
