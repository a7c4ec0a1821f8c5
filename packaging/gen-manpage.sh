#!/bin/sh
# Writes genkit-endpoints(8) to stdout: packaging/genkit-endpoints.8.in with
# its OPTIONS, CONFIGURATION and ENVIRONMENT sections generated from the
# `--help` of the binary just built, so the page always matches it.
# Usage: gen-manpage.sh path/to/genkit-endpoints [date]
set -eu
bin=${1:?usage: gen-manpage.sh path/to/genkit-endpoints [date]}
date=${2:-$(date -u +%Y-%m-%d)}
here=$(cd "$(dirname "$0")" && pwd)
version=$("$bin" --version | awk '{ print $NF }')

generated=$(mktemp)
trap 'rm -f "$generated"' EXIT
"$bin" --help | awk '
  function esc(s) {
    gsub(/\\/, "\\e", s)
    return s
  }
  function text(s) {           # a line of running text
    s = esc(s)
    if (s ~ /^[.\047]/) s = "\\&" s
    return s
  }
  function flag(s) {           # --flag ARG: bold flag, italic argument
    s = esc(s)
    gsub(/-/, "\\-", s)
    n = split(s, w, " ")
    out = "\\fB" w[1] "\\fR"
    for (i = 2; i <= n; i++) out = out " \\fI" w[i] "\\fR"
    return out
  }
  /^Options/ { section = "options"; print ".SH OPTIONS"; print text($0); next }
  /^Configuration sources/ { section = "sources"; print ".SH CONFIGURATION"; print text($0); next }
  /^Environment variables/ { section = "env"; print ".SH ENVIRONMENT"; print text($0); next }
  section == "" { next }
  /^$/ { print ".PP"; next }
  section == "options" && /^  --/ {
    line = substr($0, 3)
    split(line, parts, /  +/)
    desc = line
    sub(/^[^ ]+( [^ ]+)?  +/, "", desc)
    head = parts[1]
    print ".TP"
    print flag(head)
    print text(desc)
    next
  }
  section == "sources" && /^  [0-9]+\. / {
    line = substr($0, 3)
    num = line; sub(/ .*/, "", num)
    sub(/^[0-9]+\. /, "", line)
    print ".IP " num " 4"
    print text(line)
    in_list = 1
    next
  }
  section == "sources" && in_list && /^[^ ]/ { print ".PP"; in_list = 0 }
  section == "env" && /^  [A-Z][A-Z0-9_]* \[default: .*\]$/ {
    name = $1
    def = $0
    sub(/^  [A-Z][A-Z0-9_]* \[default: /, "", def)
    sub(/\]$/, "", def)
    print ".TP"
    print "\\fB" esc(name) "\\fR [default: " esc(def) "]"
    next
  }
  section == "env" && /^      / { line = $0; sub(/^ +/, "", line); print text(line); next }
  { line = $0; sub(/^ +/, "", line); print text(line) }
' > "$generated"

awk -v date="$date" -v version="$version" -v gen="$generated" '
  /^@GENERATED@$/ { while ((getline l < gen) > 0) print l; next }
  { gsub(/@DATE@/, date); gsub(/@VERSION@/, version); print }
' "$here/genkit-endpoints.8.in"
