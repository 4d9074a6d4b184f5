#!/bin/sh
# demo.sh: the main path of the enclave, end to end, on a fresh data
# directory under build/demo. Run by `make demo` after `make build images`.
set -eu
cd "$(dirname "$0")/.."
BIN=$(pwd)/bin
DEMO=$(pwd)/build/demo
DATA=$DEMO/data
SOCK=$DATA/enclaved.sock
export ENCLAVE_ADDR=$SOCK
export ENCLAVE_CONFIG=$DEMO/no-config.json

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
enclave() { "$BIN/enclave" "$@"; }
as() { who=$1; shift; ENCLAVE_TOKEN=$(cat "$DEMO/$who.token") "$BIN/enclave" "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

if [ "$(id -u)" = 0 ]; then sh tools/install-deps.sh; fi

say "a fresh data directory: $DATA"
if [ -f "$DEMO/enclaved.pid" ]; then kill "$(cat "$DEMO/enclaved.pid")" 2>/dev/null || true; sleep 1; fi
rm -rf "$DEMO"
mkdir -p "$DEMO"
"$BIN/enclaved" init --data-dir "$DATA" --json > "$DEMO/init.json"
json "['admin_token']" < "$DEMO/init.json" > "$DEMO/admin.token"
echo "initialised; the admin token was printed once and saved to $DEMO/admin.token"
echo "a second init refuses:"
if "$BIN/enclaved" init --data-dir "$DATA" 2>&1; then echo "init ran twice" >&2; exit 1; fi

say "start enclaved"
"$BIN/enclaved" run --data-dir "$DATA" --log-level warn 2> "$DEMO/enclaved.log" &
echo $! > "$DEMO/enclaved.pid"
trap 'kill $(cat "$DEMO/enclaved.pid") 2>/dev/null || true' EXIT
i=0
until [ -S "$SOCK" ] && enclave version >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then echo "enclaved did not start:" >&2; cat "$DEMO/enclaved.log" >&2; exit 1; fi
	sleep 0.2
done
enclave version

say "admin registers the data authority"
as admin whoami
as admin person add "Zhou Min" --org platform-operations --role authority --id-number 32058319900101007X --json > "$DEMO/authority.json"
json "['token']" < "$DEMO/authority.json" > "$DEMO/authority.token"

say "the authority licenses the organisations"
as authority org add municipal-credit-centre --type agency --licence-until "$(date -d '+23 months' +%F)"
as authority org add data-bureau --type agency --licence-until "$(date -d '+23 months' +%F)"
as authority org add security-office --type agency --licence-until "$(date -d '+23 months' +%F)"
as authority org add acme-analytics --type company --licence-until "$(date -d '+12 months' +%F)"
echo "a licence longer than two years is refused:"
if as authority org add too-long --type company --licence-until "$(date -d '+3 years' +%F)"; then exit 1; fi

say "admin registers one person of each role"
add() { name=$1; org=$2; role=$3; file=$4
	as admin person add "$name" --org "$org" --role "$role" --agreement-until "$(date -d '+1 year' +%F)" --json > "$DEMO/$file.json"
	json "['token']" < "$DEMO/$file.json" > "$DEMO/$file.token"
	echo "registered $name ($role, $org)"
}
add "Li Na" municipal-credit-centre custodian custodian
add "Wang Lei" acme-analytics operator operator
add "Chen Jing" security-office officer officer
add "Sun Hao" data-bureau bureau bureau
as admin person list

say "whoami, for each role"
for who in admin authority custodian operator officer bureau; do
	echo "-- $who"
	as $who whoami
done

say "a denied request: the operator tries to license an organisation"
set +e
as operator org add rogue-co --type company --licence-until "$(date -d '+1 year' +%F)"
code=$?
set -e
echo "exit code $code (3 means denied)"
[ $code = 3 ]
echo "an unknown token is refused too:"
set +e
ENCLAVE_TOKEN=enc_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA "$BIN/enclave" whoami
code=$?
set -e
[ $code = 3 ]

say "the bureau reads the audit log"
as bureau audit list --limit 12
say "audit verify"
as bureau audit verify
echo
echo "demo finished; the daemon is stopped. Data: $DATA"
