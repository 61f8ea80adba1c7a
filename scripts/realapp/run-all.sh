#!/usr/bin/env bash
# Every application, variant and disaster of scripts/realapp/run.sh, one after the other; prints
# each run's summary and a final table. Options are passed to every run (e.g. --new-keys).
# Exit 0 only when every run passed.
here=$(cd "$(dirname "$0")" && pwd)
runs=("mediawiki sqlite destroy" "mediawiki postgres destroy" "mediawiki postgres-physical destroy" "dokuwiki files destroy"
      "mediawiki sqlite damage" "mediawiki postgres damage" "mediawiki postgres-physical damage" "dokuwiki files damage"
      "mediawiki sqlite machine" "mediawiki postgres machine" "mediawiki postgres-physical machine" "dokuwiki files machine")
opts=("$@"); table=(); status=0
for r in "${runs[@]}"; do
  read -r app variant disaster <<<"$r"
  out=$("$here/run.sh" "$app" --variant "$variant" --disaster "$disaster" ${opts[@]+"${opts[@]}"} 2>&1); rc=$?
  printf '%s\n' "$out" | sed -n '/^=== /,/^times:/p'
  echo
  fails=$(printf '%s\n' "$out" | sed -n '/^=== /,/^times:/p' | awk '$1 == "FAIL" { print $2 }' | tr '\n' ' ')
  table+=("$(printf '%-10s %-18s %-8s %s' "$app" "$variant" "$disaster" "$([ $rc = 0 ] && echo PASSED || echo "FAILED: $fails")")")
  [ $rc = 0 ] || status=1
done
printf '%s\n' "${table[@]}"
exit $status
