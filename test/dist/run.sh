#!/usr/bin/env bash
# The PGXN distribution: `make dist` makes byo_twilio-VERSION.zip; its META.json passes the PGXN meta spec 1.0.0
# checks (test/dist/meta_check.js) and agrees with the control file; every path sits under
# byo_twilio-VERSION/; the archive holds what a PGXN client's `make && make install` needs, and the install script
# assembled from the unpacked archive equals the one assembled here. The checker itself must reject broken
# META.json files. Prints "dist: N passed, N failed".
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
WORK=${DIST_WORK_DIR:-$ROOT/.tmp/dist}
rm -rf "$WORK" && mkdir -p "$WORK"
passed=0 failed=0
check() {  # $1 description, $2 expected, $3 actual
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); echo "ok - $1"; else failed=$((failed + 1)); echo "not ok - $1: expected $2, got $3"; fi
}
VERSION=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" byo_twilio.control)
NAME=byo_twilio-$VERSION

out=$(node test/dist/meta_check.js META.json byo_twilio.control 2>&1); rc=$?
echo "$out"
check "META.json: PGXN meta spec 1.0.0, matches byo_twilio.control" 0 "$rc"

# The checker catches what it claims to: each broken copy of META.json must be rejected.
broken() {  # $1 description, $2 JavaScript editing `m` (the parsed META.json)
    node -e '
        const { validate, matchControl } = require(process.argv[1]);
        const fs = require("fs");
        const m = JSON.parse(fs.readFileSync("META.json", "utf8"));
        eval(process.argv[2]);
        const errors = validate(m).concat(matchControl(m, fs.readFileSync("byo_twilio.control", "utf8"), "byo_twilio"));
        process.exit(errors.length ? 0 : 1);' "$ROOT/test/dist/meta_check.js" "$2"
    check "the checker rejects $1" 0 $?
}
broken "a missing license" 'delete m.license'
broken "a missing meta-spec" 'delete m["meta-spec"]'
broken "a version that is not x.y.z" 'm.version = "0.7"'
broken "an unknown license string" 'm.license = "postgres"'
broken "an unknown top-level key" 'm.homepage = "https://example.com"'
broken "provides without a file" 'delete m.provides.byo_twilio.file'
broken "another meta-spec version" 'm["meta-spec"].version = "2.0.0"'
broken "a bad prerequisite range" 'm.prereqs.runtime.requires.PostgreSQL = "fifteen"'
broken "a version other than the control file's" 'm.version = "9.9.9"; m.provides.byo_twilio.version = "9.9.9"'
broken "an abstract other than the control comment" 'm.provides.byo_twilio.abstract = "something else"'

# make dist archives the committed tree (HEAD).
rm -f "$NAME.zip"
make -s dist >"$WORK/make_dist.log" 2>&1
check "make dist makes $NAME.zip" yes "$([ -s "$NAME.zip" ] && echo yes || echo no)"
mv -f "$NAME.zip" "$WORK/" 2>/dev/null
listing=$(unzip -Z1 "$WORK/$NAME.zip")
check "every path is under $NAME/" 0 "$(echo "$listing" | grep -vc "^$NAME/")"
for f in META.json byo_twilio.control Makefile README.md docs/install.md sql/byo_twilio_auth_compat.sql \
         $(git ls-files sql/released 'sql/byo_twilio--*--*.sql' sql/install src/core src/pg | grep -E '\.(sql|cpp|hpp)$'); do
    echo "$listing" | grep -qxF "$NAME/$f" || { check "the archive holds $f" yes no; missing=1; }
done
[ -z "${missing:-}" ] && check "the archive holds META.json, the control file, the Makefile, sql/ and src/" yes yes
docfile=$(node -p 'require("./META.json").provides.byo_twilio.docfile')
file=$(node -p 'require("./META.json").provides.byo_twilio.file')
check "META.json's provides file and docfile are in the archive" "yes yes" \
    "$(echo "$listing" | grep -qxF "$NAME/$file" && echo yes || echo no) $(echo "$listing" | grep -qxF "$NAME/$docfile" && echo yes || echo no)"

# What a PGXN client does first: unpack and make. The install script must be the one built here.
(cd "$WORK" && unzip -q "$NAME.zip")
make -s -C "$WORK/$NAME" "sql/byo_twilio--$VERSION.sql" >"$WORK/make_sql.log" 2>&1
make -s "sql/byo_twilio--$VERSION.sql" >/dev/null 2>&1
check "the unpacked archive assembles the same byo_twilio--$VERSION.sql" same \
    "$(cmp -s "$WORK/$NAME/sql/byo_twilio--$VERSION.sql" "sql/byo_twilio--$VERSION.sql" && echo same || echo different)"

echo "dist: $passed passed, $failed failed"
[ "$failed" = 0 ]
