# Sourced by the set-up scripts (ensure-docker.sh, build-base-image.sh, ensure-chromium.sh); they
# define say() and $log, and may define start_log() (called before the first stage's output).
#
# stage DOING DONE COMMAND...: run COMMAND (errexit on, stdin closed, its output appended to $log),
# then print "DONE (N s)"; on failure print "DOING failed (exit N); the whole log: $log" and the
# log's last 20 lines on stderr, and exit with COMMAND's exit code.
stage() {
    local doing=$1 finished=$2 started=$SECONDS rc
    shift 2
    if declare -F start_log >/dev/null; then start_log; fi
    echo "### $doing: $*" >>"$log"
    set +e
    (set -e; "$@") </dev/null >>"$log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        say "$doing failed (exit $rc); the whole log: $log" >&2
        tail -n 20 "$log" >&2
        exit "$rc"
    fi
    say "$finished ($((SECONDS - started)) s)"
}
