# Shared helpers for .ci/* (bash). Sourced, not run.

# section NAME: prints a header, and on the next section (or ci_done) the
# time the previous one took.
_ci_section=
_ci_section_start=$SECONDS
_ci_start=$SECONDS
section() {
    _ci_section_end
    _ci_section=$1
    _ci_section_start=$SECONDS
    printf '\n=== %s\n' "$1"
}
_ci_section_end() {
    if [ -n "$_ci_section" ]; then
        printf '=== %s: %ds\n' "$_ci_section" $((SECONDS - _ci_section_start))
    fi
    _ci_section=
}
ci_done() {
    _ci_section_end
    printf '=== %s total: %ds\n' "$1" $((SECONDS - _ci_start))
}
