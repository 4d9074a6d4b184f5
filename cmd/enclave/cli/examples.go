package cli

// examples are the help examples of the commands whose registration gives
// none, taken from the command lines tools/demo.sh runs.
var examples = map[string]string{
	"org add":     `enclave org add acme-analytics --type company --uscc 91310000MA1FL8XQ3X --licence-until 2027-06-30`,
	"org suspend": `enclave org suspend acme-analytics --reason "licence terms breached"`,
	"person add": `# the token is printed once
enclave person add "Zhou Min" --org platform-operations --role authority --id-number 110101199003074514`,
	"person list":  `enclave person list -o yaml`,
	"whoami":       `ENCLAVE_TOKEN=... enclave whoami --addr /var/lib/enclave/enclaved.sock`,
	"image import": `enclave image import build/images/groupcount.tar --name groupcount`,
	"image approve": `enclave image approve groupcount --comment "built-in aggregation"
enclave image approve sha256:4f1c... --comment "built-in aggregation"`,
	"image list": `enclave image list -o json`,
	"dataset import": `# the spec's name: is the dataset's name unless --name gives it
enclave dataset import penalties.csv --spec penalties.yaml --name credit_penalties`,
	"dataset list":    `enclave dataset list`,
	"dataset show":    `enclave dataset show credit_penalties@1`,
	"dataset destroy": `enclave dataset destroy credit_penalties@1 --reason "end of the legal basis"`,
	"application file": `enclave application file --datasets credit_penalties --purpose "enterprise credit risk statistics" \
  --scenario "district risk dashboard" --until 2027-06-30`,
	"application approve": `enclave application approve app-1 --comment "scope and period fit the licence"`,
	"job run": `# by image name or digest; --wait exits non-zero unless the job completed
enclave job run --wait --image groupcount --input credit_penalties --output by_district.arrow --cpu 1 --memory 256Mi \
  --timeout 5m -- groupcount -in /in/credit_penalties/data.arrow -by district -out /out/by_district.arrow`,
	"job list":        `enclave job list -o json`,
	"job logs":        `enclave job logs job-1`,
	"job wait":        `enclave job wait job-1`,
	"export request":  `enclave export request --job job-1 --files out/by_district.arrow --purpose "district risk dashboard"`,
	"export approve":  `enclave export approve exp-1 --comment "aggregates only, counts of at least 10"`,
	"export reject":   `enclave export reject exp-1 --comment "row-level content"`,
	"export download": `enclave export download exp-1 -o release.tar`,
	"release verify":  `enclave release verify release.tar --key enclave.pub --show`,
	"usage report": `enclave usage report --from 2026-01-01 --to 2026-12-31
enclave usage report --by month --format csv`,
	"audit verify": `enclave audit verify`,
	"audit list":   `enclave audit list --since 2026-12-01 --actor "Zhou Min"`,
}
