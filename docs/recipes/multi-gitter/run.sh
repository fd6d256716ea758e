#!/bin/sh
# agent-os-upgrade as the per-repository script of multi-gitter or turbolift.
#
#   multi-gitter run "$PWD/run.sh" -O my-org -B agent-os-upgrade -m "Upgrade Agent OS"
#   turbolift foreach -- sh "$PWD/run.sh"
#
# The contract these tools expect, kept here:
# - the working directory is the repository's clone;
# - exit 0 with changes in the work tree: a pull request (multi-gitter commits them);
# - exit 0 without changes: nothing to do (up to date, or no Agent OS install here);
# - a non-zero exit: this repository is skipped and its log shows why (the upgrade's own
#   message: an unreachable source, a refused pre-flight). Nothing is left changed then;
# - DRY_RUN=true (multi-gitter --dry-run): the upgrade runs with --dry-run and writes nothing.
#
# Settings (environment, all optional):
#   AGENT_OS_SOURCE   upstream git URL; default: the source= the install's VERSION.txt records
#   AGENT_OS_REF      branch, tag or commit to install (with AGENT_OS_SOURCE; default: its default branch)
#   AGENT_OS_UPGRADE  the command that runs the tool (default: agent-os-upgrade on PATH)
#   AGENT_OS_PR_BODY  where the pull request's description goes (default: a temp file,
#                     printed to the log); with multi-gitter --manual-commit, set
#                     AGENT_OS_COMMIT=true and the commit's message is that description,
#                     which multi-gitter then uses as the pull request's title and body.
set -eu

aou=${AGENT_OS_UPGRADE:-agent-os-upgrade}

if [ ! -d .agent-os ] && [ ! -d .praxis-os ]; then
  echo "No Agent OS installation (.agent-os/ or .praxis-os/) in ${REPOSITORY:-this repository}: nothing to do"
  exit 0
fi

set -- upgrade --ci
if [ -n "${AGENT_OS_SOURCE:-}" ]; then
  set -- "$@" --source "$AGENT_OS_SOURCE"
  if [ -n "${AGENT_OS_REF:-}" ]; then set -- "$@" --ref "$AGENT_OS_REF"; fi
fi
if [ "${DRY_RUN:-}" = "true" ]; then set -- "$@" --dry-run; fi

body=${AGENT_OS_PR_BODY:-}
if [ -z "$body" ]; then
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/agent-os-upgrade-pr.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  body="$tmp/pr.md"
fi
# A description left by an earlier run must not be taken for this one's.
rm -f "$body"

# The upgrade's exit code is this script's: 0 done or already up to date (conflicts are left
# as markers for the reviewer and listed in the description), anything else = skipped.
$aou "$@" --pr-body "$body"

if [ -f "$body" ]; then
  cat "$body"
  if [ "${AGENT_OS_COMMIT:-}" = "true" ] && [ "${DRY_RUN:-}" != "true" ]; then
    git add -A
    # The description's first line is "# Upgrade Agent OS to X": the commit's subject without "# ".
    sed '1s/^# //' "$body" | git commit --quiet --file=-
  fi
fi
