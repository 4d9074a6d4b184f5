#!/bin/sh
# demo.sh: the main path of the enclave, end to end, on a fresh data
# directory under build/demo. Run by `make demo` after `make deps build
# images` (deps installs containerd, runc and busybox-static when missing).
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
# Synthetic identities with valid check characters (fictional division 990100).
rid() { "$BIN/enclave-synth" -resident-id "$1"; }
uscc() { "$BIN/enclave-synth" -uscc "$1"; }
# bad V: V with a wrong check character (its last one changed).
bad() { case "$1" in *1) printf '%s2' "${1%?}" ;; *) printf '%s1' "${1%?}" ;; esac; }
LIABILITY="confidentiality agreement NDA-2026 signed on registration: term as recorded, liability for breach per its article 7"

say "a fresh data directory: $DATA"
if [ -f "$DEMO/enclaved.pid" ]; then kill "$(cat "$DEMO/enclaved.pid")" 2>/dev/null || true; sleep 1; fi
rm -rf "$DEMO"
mkdir -p "$DEMO"
"$BIN/enclaved" init --data-dir "$DATA" --org-uscc "$(uscc 0)" --admin-name "Ma Yi" --admin-id-number "$(rid 0)" --json > "$DEMO/init.json"
json "['admin_token']" < "$DEMO/init.json" > "$DEMO/admin.token"
echo "initialised; the admin token was printed once and saved to $DEMO/admin.token"
echo "a second init refuses:"
if "$BIN/enclaved" init --data-dir "$DATA" --org-uscc "$(uscc 0)" --admin-id-number "$(rid 0)" 2>&1; then echo "init ran twice" >&2; exit 1; fi

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
as admin person add "Zhou Min" --org platform-operations --role authority --id-number "$(rid 1)" \
	--agreement-until "$(date -d '+1 year' +%F)" --agreement-liability "$LIABILITY" --json > "$DEMO/authority.json"
json "['token']" < "$DEMO/authority.json" > "$DEMO/authority.token"
echo "every person is registered with a valid resident ID number: a wrong check character is refused, naming the rule:"
if as admin person add "Qian Er" --org platform-operations --role bureau --id-number "$(bad "$(rid 2)")" \
	--agreement-until "$(date -d '+1 year' +%F)" --agreement-liability "$LIABILITY"; then exit 1; fi
echo "and a role that sees data or decides needs a confidentiality agreement with its term and liability:"
if as admin person add "Qian Er" --org platform-operations --role bureau --id-number "$(rid 2)"; then exit 1; fi

say "the authority licenses the organisations"
# license NAME TYPE CODE-NUMBER UNTIL [more flags]: a licence application with what 001 art. 11 asks.
license() { name=$1; type=$2; n=$3; until=$4; shift 4
	as authority org add "$name" --type "$type" --uscc "$(uscc "$n")" --licence-until "$until" \
		--business-scope "public data operation: $name" --security-lead "Qian Yi" --principal "Zhao Er" \
		--data-disposal "destroy every dataset copy and derived product within 30 days of the licence's end, with destruction records" "$@"
}
license municipal-credit-centre agency 1 "$(date -d '+23 months' +%F)" > /dev/null
license data-bureau agency 2 "$(date -d '+23 months' +%F)" > /dev/null
license security-office agency 3 "$(date -d '+23 months' +%F)" > /dev/null
license acme-analytics company 4 "$(date -d '+12 months' +%F)"
as authority org list
echo "a licence longer than two years is refused:"
if license too-long company 5 "$(date -d '+3 years' +%F)"; then exit 1; fi
echo "so is a unified social credit code with a wrong check character:"
if as authority org add bad-code --type company --uscc "$(bad "$(uscc 5)")" --licence-until "$(date -d '+1 year' +%F)" \
	--business-scope x --security-lead "Qian Yi" --principal "Zhao Er" --data-disposal destroy; then exit 1; fi
echo "a blacklisted organisation is not licensed again under another name: its code is refused, naming the rule:"
license shell-co company 6 "$(date -d '+12 months' +%F)" > /dev/null
as authority org blacklist shell-co --reason "forged data-use application" > /dev/null
set +e
license shell-co-renamed company 6 "$(date -d '+12 months' +%F)"
code=$?
set -e
[ $code = 3 ]
echo "a licence is renewed only in its last three months, for at most two years:"
set +e
as authority org renew acme-analytics --licence-until "$(date -d '+24 months' +%F)"
code=$?
set -e
[ $code = 3 ]
license short-term-co company 7 "$(date -d '+2 months' +%F)" > /dev/null
as authority org renew short-term-co --licence-until "$(date -d '+2 years' +%F)"

say "admin registers one person of each role"
add() { name=$1; org=$2; role=$3; file=$4
	as admin person add "$name" --org "$org" --role "$role" --id-number "$(rid "$5")" \
		--agreement-until "$(date -d '+1 year' +%F)" --agreement-liability "$LIABILITY" --json > "$DEMO/$file.json"
	json "['token']" < "$DEMO/$file.json" > "$DEMO/$file.token"
	echo "registered $name ($role, $org)"
}
add "Li Na" municipal-credit-centre custodian custodian 3
add "Wang Lei" acme-analytics operator operator 4
add "Chen Jing" security-office officer officer 5
add "Zhao Min" security-office officer officer2 6
add "Sun Hao" data-bureau bureau bureau 7
echo "each person with their masked ID number and the term of their confidentiality agreement:"
as admin person list
echo "separation of duties: one person may not run jobs and review them:"
set +e
as admin person add "Wu Ming" --org acme-analytics --role operator,officer --id-number "$(rid 8)" \
	--agreement-until "$(date -d '+1 year' +%F)" --agreement-liability "$LIABILITY"
code=$?
set -e
[ $code = 1 ]

say "whoami, for each role"
for who in admin authority custodian operator officer officer2 bureau; do
	echo "-- $who"
	as $who whoami
done

say "a denied request: the operator tries to license an organisation"
set +e
as operator org add rogue-co --type company --uscc "$(uscc 9)" --licence-until "$(date -d '+1 year' +%F)" \
	--business-scope "anything" --security-lead "Wang Lei" --principal "Wang Lei" --data-disposal "keep it"
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

say "the custodian imports a synthetic credit-penalty dataset"
"$BIN/enclave-synth" -rows 20000 -seed 7 -o "$DEMO/penalties.csv" -spec "$DEMO/penalties.yaml"
echo "generated $(wc -l < "$DEMO/penalties.csv") lines of synthetic penalties (valid but fictional identifiers); the spec:"
cat "$DEMO/penalties.yaml"
as custodian dataset import "$DEMO/penalties.csv" --spec "$DEMO/penalties.yaml" --name credit_penalties
echo
echo "an import that would keep resident ID numbers raw is refused, naming the column:"
sed 's/legal_rep_id: *{level: general-4, pi: identity, rule: {hash: {}}}/legal_rep_id: {level: general-4, rule: keep}/' "$DEMO/penalties.yaml" > "$DEMO/raw-ids.yaml"
if as custodian dataset import "$DEMO/penalties.csv" --spec "$DEMO/raw-ids.yaml" --name credit_penalties; then exit 1; fi

echo
echo "a second dataset, which no application names yet:"
"$BIN/enclave-synth" -rows 3000 -seed 11 -name penalties_archive -o "$DEMO/archive.csv" -spec "$DEMO/archive.yaml"
echo "a spec must name its sharing class (000 art. 14); one that leaves it out is refused:"
grep -v '^sharing:' "$DEMO/archive.yaml" > "$DEMO/unclassed.yaml"
if as custodian dataset import "$DEMO/archive.csv" --spec "$DEMO/unclassed.yaml" --name penalties_archive; then exit 1; fi
sed -i 's/^sharing: .*/sharing: conditional/' "$DEMO/archive.yaml"
grep '^sharing:' "$DEMO/archive.yaml"
as custodian dataset import "$DEMO/archive.csv" --spec "$DEMO/archive.yaml" --name penalties_archive --json > /dev/null
echo "imported penalties_archive"

say "a dataset belongs to the organisation that first imported it"
license district-data-centre agency 10 "$(date -d '+23 months' +%F)" > /dev/null
add "Sun Li" district-data-centre custodian custodian2 10
# refused CMD...: CMD is denied (exit code 3), naming the rule.
refused() { set +e; "$@"; code=$?; set -e; echo "exit code $code (3 means denied)"; [ $code = 3 ]; }
echo "a custodian of a second data provider may not seal credit_penalties, destroy it, or import a version under its name:"
refused as custodian2 dataset seal credit_penalties --reason "ours now"
refused as custodian2 dataset destroy credit_penalties --reason "ours now"
refused as custodian2 dataset import "$DEMO/penalties.csv" --spec "$DEMO/penalties.yaml" --name credit_penalties
as custodian dataset show credit_penalties | head -3

say "the operator sees the catalogue: schema and marks, never rows"
as operator dataset list

say "one application, one list, one approval"
as operator application file --datasets credit_penalties --purpose "enterprise credit risk statistics" \
	--scenario "district risk dashboard" --data-flow "penalties -> per-district counts -> reviewed export" \
	--until "$(date -d '+6 months' +%F)" --json > "$DEMO/application.json"
APP=$(json "['id']" < "$DEMO/application.json")
as operator application show "$APP"
echo "the operator cannot approve their own application:"
if as operator application approve "$APP"; then exit 1; fi
as authority application approve "$APP" --comment "scope and period fit the licence"

say "job images: the operator imports them, an officer approves them"
as operator image import build/images/groupcount.tar --name groupcount --json > "$DEMO/groupcount.json"
GC=$(json "['digest']" < "$DEMO/groupcount.json")
as operator image import build/images/toolbox.tar --name toolbox --json > "$DEMO/toolbox.json"
TB=$(json "['digest']" < "$DEMO/toolbox.json")
echo "a pending image cannot run:"
if as operator job run --image "$TB" --input credit_penalties -- true; then exit 1; fi
as officer image approve "$GC" --comment "built-in aggregation"
as officer image approve "$TB" --comment "built-in toolbox"

echo "an image whose layers would unpack outside their place is refused at import, before anything is unpacked:"
python3 - "$DEMO/badimage.tar" <<'PY'
import gzip, hashlib, io, json, sys, tarfile
def tar_of(add):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        add(t)
    return b.getvalue()
def link(t):
    i = tarfile.TarInfo("etc/shadow"); i.type = tarfile.LNKTYPE; i.linkname = "/etc/shadow"; t.addfile(i)
raw = tar_of(link)
layer = gzip.compress(raw, mtime=0)
d = lambda b: "sha256:" + hashlib.sha256(b).hexdigest()
config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [d(raw)]}}).encode()
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d(layer), "size": len(layer)}]}).encode()
idx = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d(man), "size": len(man)}]}).encode()
files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": idx}
for b in (layer, config, man):
    files["blobs/sha256/" + d(b)[7:]] = b
def add(t):
    for name, data in files.items():
        i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
open(sys.argv[1], "wb").write(tar_of(add))
PY
set +e
as operator image import "$DEMO/badimage.tar" --name hardlink
code=$?
set -e
echo "exit code $code"
[ $code = 1 ]

say "the operator runs groupcount in a network-less, unprivileged container, declaring its one output"
echo "an output name that is not a plain file name is refused before anything runs:"
set +e
as operator job run --image "$GC" --input credit_penalties --output ../by_district.arrow -- groupcount
code=$?
set -e
[ $code = 2 ]
as operator job run --wait --image "$GC" --input credit_penalties --output by_district.arrow --cpu 1 --memory 256Mi --timeout 5m \
	--json -- groupcount -in /in/credit_penalties/data.arrow -by district -out /out/by_district.arrow > "$DEMO/job.json"
JOB=$(json "['id']" < "$DEMO/job.json")
echo "the operator sees how the job ended and its resource use rounded up, sizes rounded up and no hashes:"
as operator job show "$JOB"
echo
echo "an officer of another organisation sees the exit status, the exact figures and the hashes:"
as officer job show "$JOB"

say "the operator brings its own data in: the same import, then a review by an officer of another organisation (R-16, issue 20)"
"$BIN/enclave-synth" -rows 500 -seed 11 -o "$DEMO/own.csv" -spec "$DEMO/own.yaml"
sed -i 's/^name: .*/name: acme_customers/' "$DEMO/own.yaml"
as operator dataset upload "$DEMO/own.csv" --spec "$DEMO/own.yaml" --name acme_customers --json > "$DEMO/upload.json"
echo "uploaded: state $(json "['state']" < "$DEMO/upload.json"), $(json "['rows']" < "$DEMO/upload.json") rows, owner $(json "['owner']" < "$DEMO/upload.json")"
echo "no job reads it while it waits for review:"
refused as operator job run --image "$GC" --input acme_customers --output n.arrow -- groupcount -in /in/acme_customers/data.arrow -by district -out /out/n.arrow
echo "a custodian of another organisation does not see it in the catalogue, as if the name were never imported:"
if as custodian2 dataset show acme_customers; then exit 1; fi
if as custodian2 dataset show never_imported_name; then exit 1; fi
if as custodian2 dataset list | grep -q acme_customers; then exit 1; fi
echo "(and not in its listing)"
echo "an officer of another organisation reviews schema, marks, row count and the safety net's findings, never rows, and approves:"
as officer dataset show acme_customers | head -12
as officer dataset approve acme_customers --reason "identifiers hashed, schema fits the stated fusion"
echo "the operator fuses its own data with the granted dataset in one job:"
as operator job run --wait --image "$GC" --input acme_customers --input credit_penalties --output own_by_district.arrow --timeout 5m \
	--json -- groupcount -in /in/acme_customers/data.arrow -by district -out /out/own_by_district.arrow > "$DEMO/fused.json"
echo "fused job $(json "['id']" < "$DEMO/fused.json"): $(json "['state']" < "$DEMO/fused.json")"
[ "$(json "['state']" < "$DEMO/fused.json")" = complete ]

say "the same job on a dataset the application did not name is denied, naming the rule"
if as operator job run --image "$GC" --input penalties_archive --output x.arrow -- groupcount -in /in/penalties_archive/data.arrow -by district -out /out/x.arrow; then exit 1; fi

echo
echo "the authority asks the policies why, without acting:"
OPID=$(json "['id']" < "$DEMO/operator.json")
as authority policy explain --as "$OPID" --action job.run --dataset penalties_archive
as authority policy explain --as "$OPID" --action job.run --dataset credit_penalties

say "export: the checks run at once"
as operator export request --job "$JOB" --files out/by_district.arrow --purpose "district risk dashboard for the credit office" --json > "$DEMO/export.json"
EXP=$(json "['id']" < "$DEMO/export.json")
as operator export show "$EXP"

say "an attempt to take the raw rows out is stopped by the checks"
echo "(the job also writes a file it did not declare, named like a company code: dropped at collection, only counted)"
as operator job run --wait --image "$TB" --input credit_penalties --output copy.arrow --json -- \
	sh -c 'cp /in/credit_penalties/data.arrow /out/copy.arrow && touch /out/91990104A6N74W818W' > "$DEMO/copyjob.json"
COPYJOB=$(json "['id']" < "$DEMO/copyjob.json")
echo "outputs: $(json "['outputs'][0]['name']" < "$DEMO/copyjob.json"); undeclared_dropped: $(json "['undeclared_dropped']" < "$DEMO/copyjob.json")"
[ "$(json "['undeclared_dropped']" < "$DEMO/copyjob.json")" = 1 ]
as operator export request --job "$COPYJOB" --files out/copy.arrow --purpose "just the table" --json > "$DEMO/badexport.json"
BAD=$(json "['id']" < "$DEMO/badexport.json")
as operator export show "$BAD"
echo "an officer rejects it:"
as officer export reject "$BAD" --comment "raw rows may not leave (R-11)" > /dev/null && echo "rejected $BAD"

say "a cipher does not carry values out either: the output contract asks for aggregate content, not for known values"
echo "(the job substitutes letters for the hex digits of 40 pseudonyms; no fingerprint can match them)"
as operator job run --wait --image "$TB" --input credit_penalties --output notes.txt --json -- \
	sh -c "strings -n 32 /in/credit_penalties/data.arrow | grep -oE '[0-9a-f]{32}' | head -n 40 | tr 0-9a-f ghijklmnopqrstuv > /out/notes.txt" > "$DEMO/cipherjob.json"
CJOB=$(json "['id']" < "$DEMO/cipherjob.json")
as operator export request --job "$CJOB" --files out/notes.txt --purpose "analyst notes" --json > "$DEMO/cipherexport.json"
as operator export show "$(json "['id']" < "$DEMO/cipherexport.json")"
echo "(the operator reads each check's verdict only: the evidence is computed from the file and would carry it out;"
echo " an officer of another organisation reads it in full)"
as officer export show "$(json "['id']" < "$DEMO/cipherexport.json")" --json > "$DEMO/cipherexport-officer.json"
python3 - "$DEMO/cipherexport.json" "$DEMO/cipherexport-officer.json" <<'PY'
import json, sys
op = json.load(open(sys.argv[1]))
assert all(not any(c.isdigit() for c in f["evidence"]) and not f.get("file") for f in op["checks"]["findings"]), \
    "the operator's view of the findings carries figures or file names"
e = json.load(open(sys.argv[2]))
fs = e["checks"]["findings"]
stopped = [f for f in fs if f["check"] == "contract" and f["verdict"] == "fail"]
raw = [f for f in fs if f["check"] == "raw-values" and f["verdict"] == "fail"]
assert stopped, "the output contract did not stop the cipher"
print("stopped by the output contract (raw-values found %d known values):" % len(raw), stopped[0]["evidence"])
PY

say "two officers of another organisation approve the clean export"
as officer export approve "$EXP" --comment "aggregates only, counts of at least 10"
as officer2 export approve "$EXP" --comment "second review (general-4 inputs)"

say "the operator downloads the signed bundle; anyone with the public key verifies it offline"
as operator export download "$EXP" -o "$DEMO/release.tar"
as operator keys public --json > "$DEMO/key.json"
json "['key']" < "$DEMO/key.json" > "$DEMO/enclave.pub"
"$BIN/enclave" release verify "$DEMO/release.tar" --key "$DEMO/enclave.pub" --show
echo
echo "a bundle changed by one byte fails verification:"
python3 - "$DEMO/release.tar" "$DEMO/tampered.tar" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
i = b.find(b'ARROW1', 2048)
b[i + 64] ^= 1
open(sys.argv[2], 'wb').write(b)
PY
if "$BIN/enclave" release verify "$DEMO/tampered.tar" --key "$DEMO/enclave.pub"; then exit 1; fi
as authority release list

say "the bureau sees the use per organisation and per month, with charges; the operator sees its own"
as bureau usage report --from "$(date +%Y)-01-01" --to "$(date +%F)"
as bureau usage report --by month --format csv
as operator usage report --org acme-analytics --by person
as authority org quota acme-analytics --concurrent-jobs 4 --memory-per-job 4Gi
as bureau report annual --org acme-analytics --year "$(date +%Y)" -o "$DEMO/annual.html"
if grep -Eq '<script|<img|<link' "$DEMO/annual.html"; then echo "the annual report refers to outside assets"; exit 1; fi
grep -c '<svg' "$DEMO/annual.html" | sed 's/$/ charts in the annual report/'
say "the custodian lists every event about its own dataset"
curl -sf --unix-socket "$SOCK" -H "Authorization: Bearer $(cat "$DEMO/custodian.token")" "http://enclave/v1/audit?dataset=credit_penalties" |
	python3 -c "import json,sys; evs=json.load(sys.stdin); print(len(evs), 'events about credit_penalties:', sorted({e['action'] for e in evs}))"
echo "the whole log stays closed to the custodian:"
if as custodian audit list --limit 1; then exit 1; fi

say "one more export request, left pending for review in the web console"
as operator export request --job "$JOB" --files out/by_district.arrow --purpose "district risk dashboard, second release" --json > "$DEMO/pending.json"
echo "export $(json "['id']" < "$DEMO/pending.json") is $(json "['state']" < "$DEMO/pending.json") (checks: $(json "['checks']['verdict']" < "$DEMO/pending.json"); the differencing check compares it with the release above)"

say "an incident stops use at once, and until the authority closes it (R-17, R-20)"
as operator job run --image "$TB" --input credit_penalties --timeout 5m --json -- sh -c "sleep 120" > "$DEMO/long.json"
LONG=$(json "['id']" < "$DEMO/long.json")
echo "job $LONG is running on credit_penalties; the operator reports that a column looks unmasked:"
as operator incident report --dataset credit_penalties --reason "a column of the district counts looks unmasked" --json > "$DEMO/incident.json"
INC=$(json "['id']" < "$DEMO/incident.json")
as bureau incident show "$INC"
as operator job wait "$LONG" | grep -E '^(job|state|reason)' || true
echo "while the incident is open no job reads the dataset, and policy explain says why:"
refused as operator job run --image "$GC" --input credit_penalties --output y.arrow -- groupcount -in /in/credit_penalties/data.arrow -by district -out /out/y.arrow
as authority policy explain --as "$OPID" --action job.run --dataset credit_penalties | grep -E '^(decision|reason)' || true
echo "an operator of another organisation cannot report on acme-analytics' work (not found or not yours):"
add "Zhou Yi" short-term-co operator operator2 21 > /dev/null
set +e; as operator2 incident report --job "$JOB" --reason "curious"; code=$?; set -e
echo "exit code $code"; [ $code != 0 ]
as bureau incident list
as authority incident close "$INC" --decision "masking verified against the spec; use resumes"
as authority policy explain --as "$OPID" --action job.run --dataset credit_penalties | grep -E '^(decision|grant)' || true

say "a grant ends with its basis: the authority revokes it, and the job under it stops (R-13)"
echo "penalties_archive is shared conditionally: an application that names no conditions is refused"
if as operator application file --datasets penalties_archive --purpose "flood-relief planning for the districts" --scenario "district risk dashboard" \
	--public-interest --until "$(date -d '+3 months' +%F)"; then exit 1; fi
echo "with its conditions named, and filed as public-interest use (001 art. 23: free or at cost once the authority approves it):"
as operator application file --datasets penalties_archive --purpose "flood-relief planning for the districts" --scenario "district risk dashboard" \
	--public-interest --conditions "district aggregates only; no re-identification; results go to the flood office" \
	--until "$(date -d '+3 months' +%F)" --json > "$DEMO/application2.json"
APP2=$(json "['id']" < "$DEMO/application2.json")
as authority application show "$APP2" | grep -E '^(purpose|public interest|conditions)'
as authority application approve "$APP2" --comment "a one-off study"
as operator job run --image "$TB" --input penalties_archive --timeout 5m --json -- sh -c "sleep 120" > "$DEMO/long2.json"
LONG2=$(json "['id']" < "$DEMO/long2.json")
as authority application revoke "$APP2" --reason "the study went beyond the approved scenario"
as operator job wait "$LONG2" | grep -E '^(job|state|reason)' || true
echo "the grant admits nothing more, and policy explain names it:"
refused as operator job run --image "$GC" --input penalties_archive --output x.arrow -- groupcount -in /in/penalties_archive/data.arrow -by district -out /out/x.arrow
as authority policy explain --as "$OPID" --action job.run --dataset penalties_archive | grep -E '^(decision|reason)' || true
as authority application show "$APP2" | grep -E '^(application|status)'

say "prices by purpose (001 art. 22-23): use under an application approved as public-interest is free or at cost, the rest is paid"
echo "the job under the flood-relief grant is priced as public-interest, naming that application; the other jobs as industry use:"
as bureau usage report --org acme-analytics --from "$(date +%Y)-01-01" --to "$(date +%F)"

say "data dies with its basis, and a backup does not bring it back (issue 18 items 2, 3)"
echo "job outputs, logs and export files rest sealed under keys of their own: no file under the data directory holds an Arrow table in the clear:"
python3 - "$DATA" <<'PY'
import os, sys
bad = []
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        if os.path.isfile(p) and not os.path.islink(p):
            data = open(p, 'rb').read()
            if not data.startswith(b'ENCSEAL\0') and b'ARROW1' in data:
                bad.append(p)
print("files with a plaintext Arrow table:", len(bad))
sys.exit(1 if bad else 0)
PY
export ENCLAVE_BACKUP_PASSPHRASE="the demo's backup passphrase"
"$BIN/enclaved" backup --data-dir "$DATA" --to "$DEMO/backup"
echo "the custodian destroys penalties_archive; the job that read it loses its log and outputs, with a destruction record:"
as custodian dataset destroy penalties_archive --reason "the provider withdrew the archive"
echo "the backup, taken before, is restored only when shown what was destroyed since:"
if "$BIN/enclaved" restore --from "$DEMO/backup" --data-dir "$DEMO/restored"; then exit 1; fi
"$BIN/enclaved" restore --from "$DEMO/backup" --data-dir "$DEMO/restored" --tombstones "$DATA"
"$BIN/enclaved" run --data-dir "$DEMO/restored" --sandbox=false --log-level warn 2> "$DEMO/restored.log" &
RPID=$!
i=0
until [ -S "$DEMO/restored/enclaved.sock" ] && enclave --addr "$DEMO/restored/enclaved.sock" version >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then echo "the restored enclaved did not start:" >&2; cat "$DEMO/restored.log" >&2; exit 1; fi
	sleep 0.2
done
echo "in the restored enclave, penalties_archive stays destroyed:"
as custodian --addr "$DEMO/restored/enclaved.sock" dataset show penalties_archive | grep -E '^(state|destroyed)'
as custodian --addr "$DEMO/restored/enclaved.sock" dataset show penalties_archive | grep -q destroyed
kill "$RPID"; wait "$RPID" || true
unset ENCLAVE_BACKUP_PASSPHRASE

say "a verify service: the custodian publishes it, officers approve it, a consumer system calls it (issue 19)"
license city-bank company 9 "$(date -d '+12 months' +%F)" > /dev/null
add "Ma Li" city-bank consumer consumer 22
echo "a key column under a lossy rule (the masked phone) is refused, naming it:"
if as custodian service create phone-check --mode verify --dataset credit_penalties --key legal_rep_phone --scenario "loan applicant checks"; then exit 1; fi
as custodian service create firm-check --mode verify --dataset credit_penalties --key uscc --match legal_rep_id \
	--scenario "loan applicant checks" --rate 600/m --daily-misses 50
as officer service approve firm-check --comment "answers match only; key kept, legal representative by keyed pseudonym"
as officer2 service approve firm-check --comment "second review (authorization-required data)" | grep -E '^(state|running)'
as consumer service subscribe firm-check --scenario "loan applicant checks" --until "$(date -d '+6 months' +%F)" --json > "$DEMO/sub.json"
SUB=$(json "['id']" < "$DEMO/sub.json")
as authority service approve-subscription "$SUB"
as consumer credential issue --subscription "$SUB" --system loan-desk --json > "$DEMO/cred.json"
json "['token']" < "$DEMO/cred.json" > "$DEMO/loan-desk.token"
CRED=$(json "['id']" < "$DEMO/cred.json")
row() { python3 -c 'import csv,sys; print(list(csv.DictReader(open(sys.argv[1])))[5][sys.argv[2]])' "$DEMO/penalties.csv" "$1"; }
KEY=$(row uscc)
REP=$(row legal_rep_id)
echo "the bank's loan-desk system asks whether the enclave knows an enterprise (its code), and whether a claimed legal representative is the right one:"
as loan-desk service call firm-check --key "$KEY" --claim "legal_rep_id=$REP"
as loan-desk service call firm-check --key "$KEY" --claim "legal_rep_id=110101199003070000"
as loan-desk service call firm-check --key 91990100NOTAREALCO
echo "the keys and claims the system sent are on no record (the audit log holds keyed hashes only):"
for k in 91990100NOTAREALCO 110101199003070000; do
	if grep -rqa "$k" "$DATA"; then echo "a raw key sent by the system is in the data directory"; exit 1; fi
done
as bureau audit list --action service.verify --limit 3
as consumer service usage firm-check
as bureau service usage firm-check
as consumer service show firm-check --openapi | head -12
echo "a revoked credential is refused at once:"
as consumer credential revoke "$CRED" > /dev/null
if as loan-desk service call firm-check --key "$KEY"; then exit 1; fi

say "bulk copy: the operator offers its released export as a service; a consumer system downloads the signed bundle and verifies it offline (issue 19)"
as operator service create district-counts --mode bulk --export "$EXP" --scenario "district risk dashboard" | grep -E '^(service|state)'
as officer service approve district-counts --comment "the reviewed release as it was released" | grep -E '^state'
if as officer service show district-counts | grep -Eq '^state +pending'; then
	as officer2 service approve district-counts --comment "second review" | grep -E '^state'
fi
as consumer service subscribe district-counts --scenario "district risk dashboard" --until "$(date -d '+3 months' +%F)" --json > "$DEMO/bulksub.json"
as authority service approve-subscription "$(json "['id']" < "$DEMO/bulksub.json")" > /dev/null
as consumer credential issue --subscription "$(json "['id']" < "$DEMO/bulksub.json")" --system risk-feed --json > "$DEMO/bulkcred.json"
json "['token']" < "$DEMO/bulkcred.json" > "$DEMO/risk-feed.token"
as risk-feed service download district-counts -o "$DEMO/bulk.tar"
"$BIN/enclave" release verify "$DEMO/bulk.tar" --key "$DEMO/enclave.pub" | head -3
as bureau audit list --action service.bulk --limit 2

say "the annual operation report of 001 art. 18 as a PDF (product development and storage, security management, market operations, resource use, objections)"
as bureau report annual --year "$(date +%Y)" --format pdf --output "$DEMO/annual.pdf" && head -c 5 "$DEMO/annual.pdf" | grep -q '^%PDF-' || { echo "the annual report is not a PDF"; exit 1; }

say "the bureau reads the audit log"
as bureau audit list --limit 12
say "audit verify"
as bureau audit verify
echo
echo "demo finished; the daemon is stopped. Data: $DATA"
echo "to review the pending export in a browser: bin/enclaved run --data-dir $DATA --listen 127.0.0.1:8443"
echo "then open https://127.0.0.1:8443/console/ and sign in with the token in $DEMO/officer.token (and officer2.token)"
