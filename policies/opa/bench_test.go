package opa

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	policy "github.com/enclave-dev/enclave/policies"
)

// benchInputs is the mix of requests a benchmark cycles through: an allowed
// and a denied job admission with three grants, an approval, a listing.
func benchInputs() []policy.Input {
	job := jobInput()
	extra := job.Grants[0]
	extra.ID, extra.Datasets = "g-2", []policy.GrantDataset{{Name: "registrations", Columns: []string{"id", "region"}}}
	third := job.Grants[0]
	third.ID, third.BatchesLeft = "g-3", ptr(int64(5))
	job.Grants = append(job.Grants, extra, third)
	job.Resource.Datasets = append(job.Resource.Datasets, policy.Dataset{Name: "registrations", Version: 1, Level: "general-1", Market: "ordinary", State: "active", Columns: []string{"region"}})
	job.Quota = policy.Quota{ConcurrentJobs: ptr(int64(4)), CPUSecondsMonth: ptr(int64(360000)), MemoryBytesPerJob: ptr(int64(4 << 30))}
	denied := job
	denied.Resource.Datasets = slices.Clone(job.Resource.Datasets)
	denied.Resource.Datasets[1].Columns = []string{"name"}
	return []policy.Input{job, denied, matrixInput("application.approve", false, "authority"), matrixInput("job.list", true, "operator")}
}

// freshJobs returns n copies of the allowed job admission whose grants and
// datasets are new to the engine's conversion cache (terms.go): new grant
// ids and dataset versions in every request.
func freshJobs(n int) []policy.Input {
	job := benchInputs()[0]
	out := make([]policy.Input, n)
	for i := range out {
		in := job
		in.Grants = slices.Clone(job.Grants)
		for j := range in.Grants {
			in.Grants[j].ID = fmt.Sprintf("g-%d-%d", j, i)
		}
		in.Resource.Datasets = slices.Clone(job.Resource.Datasets)
		for j := range in.Resource.Datasets {
			in.Resource.Datasets[j].Version = int64(1000 + i)
		}
		out[i] = in
	}
	return out
}

// BenchmarkDecide measures decision latency with the built-in policies
// ("builtin") next to a trivial `allow := true` policy ("trivial") evaluated
// the same way, and reports p50 and p99 in microseconds and decisions per
// second.
//
//   - builtin: the mix of an allowed and a denied job admission over two
//     datasets and three grants with quotas, an approval and a listing;
//   - builtin-job: the allowed job admission alone;
//   - builtin-job-denied: the denied one alone, the heaviest request (every
//     grant is ranked to name the rule that refuses the dataset);
//   - builtin-job-fresh: the same with grants and datasets new to the
//     conversion cache in every request (terms.go), as for an
//     organisation's first job;
//   - builtin-other: the mix without job.run (approvals, listings, whoami,
//     show), which is most of a daemon's decisions;
//   - topdown-job and topdown-other: the same requests decided by OPA's
//     topdown evaluator on the specialized residuals, without plans
//     (planned.go), for comparison;
//   - wasm-job, wasm-job-denied and wasm-other: the same requests decided
//     by OPA's WebAssembly evaluator on wazero (WithEvaluator(EvaluatorWasm))
//     on the same residuals;
//   - shadowed and shadowed-job-denied: the mix and the denied job
//     admission by the VM with the run-time check against topdown
//     (WithShadow, as the daemon runs it): a sampled decision, and every
//     denied job admission, copies its input before it returns, and the
//     checks in topdown take their share of the processors;
//   - ratio: builtin and trivial alternated per iteration, the ratios of
//     their p50 and p99;
//   - evaluators-job, evaluators-job-denied, evaluators-read: the plan in
//     package vm, the residual compiled to WebAssembly and the residual in
//     topdown alternated per iteration on the same request (the allowed
//     job admission, the denied one, a dataset listing), so that the load
//     of the machine falls on the three alike: each one's p50 and p99, and
//     wasm's and topdown's as ratios to the vm's.
//
// Every engine specializes and plans the policies per action; for the
// trivial policy the residual is a constant.
func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	inputs := benchInputs()
	topdown, err := New(ctx, withoutPlans())
	if err != nil {
		b.Fatal(err)
	}
	wasm, err := New(ctx, WithEvaluator(EvaluatorWasm))
	if err != nil {
		b.Fatal(err)
	}
	if len(wasm.wasm) == 0 {
		b.Fatal("no action compiled to WebAssembly")
	}
	shadowed, err := New(ctx, WithShadow(Shadow{}))
	if err != nil {
		b.Fatal(err)
	}
	defer shadowed.Close()
	engines := map[string]*Engine{"builtin": builtinEngine(b), "trivial": trivialEngine(b), "topdown": topdown, "wasm": wasm, "shadowed": shadowed}
	others := append(slices.Clone(inputs[2:]), matrixInput("whoami", true, "operator"), matrixInput("job.show", true, "operator"), matrixInput("dataset.list", true, "officer"))
	cases := []struct {
		name, engine string
		inputs       func(n int) []policy.Input
	}{
		{"builtin", "builtin", func(int) []policy.Input { return inputs }},
		{"trivial", "trivial", func(int) []policy.Input { return inputs }},
		{"builtin-job", "builtin", func(int) []policy.Input { return inputs[:1] }},
		{"builtin-job-denied", "builtin", func(int) []policy.Input { return inputs[1:2] }},
		{"builtin-job-fresh", "builtin", freshJobs},
		{"builtin-other", "builtin", func(int) []policy.Input { return others }},
		{"topdown-job", "topdown", func(int) []policy.Input { return inputs[:1] }},
		{"topdown-other", "topdown", func(int) []policy.Input { return others }},
		{"wasm-job", "wasm", func(int) []policy.Input { return inputs[:1] }},
		{"wasm-job-denied", "wasm", func(int) []policy.Input { return inputs[1:2] }},
		{"wasm-other", "wasm", func(int) []policy.Input { return others }},
		{"shadowed", "shadowed", func(int) []policy.Input { return inputs }},
		{"shadowed-job-denied", "shadowed", func(int) []policy.Input { return inputs[1:2] }},
	}
	// The topdown engine checks an action's residual against the whole
	// policies on its first decision (the others check their plans when
	// they load); a daemon pays that once.
	for name, e := range engines {
		for _, in := range append(slices.Clone(inputs), others...) {
			if _, err := e.Decide(ctx, in); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
		}
	}
	for _, c := range cases {
		e := engines[c.engine]
		b.Run(c.name, func(b *testing.B) {
			inputs := c.inputs(b.N)
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if _, err := e.Decide(ctx, inputs[i%len(inputs)]); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			report(b, "", lat)
			var total time.Duration
			for _, l := range lat {
				total += l
			}
			b.ReportMetric(float64(len(lat))/total.Seconds(), "decisions/s")
		})
	}
	b.Run("ratio", func(b *testing.B) {
		real := make([]time.Duration, 0, b.N)
		ref := make([]time.Duration, 0, b.N)
		for i := range b.N {
			in := inputs[i%len(inputs)]
			start := time.Now()
			if _, err := engines["builtin"].Decide(ctx, in); err != nil {
				b.Fatal(err)
			}
			mid := time.Now()
			if _, err := engines["trivial"].Decide(ctx, in); err != nil {
				b.Fatal(err)
			}
			real = append(real, mid.Sub(start))
			ref = append(ref, time.Since(mid))
		}
		b.StopTimer()
		slices.Sort(real)
		slices.Sort(ref)
		b.ReportMetric(ratio(pct(real, 50), pct(ref, 50)), "p50-ratio")
		b.ReportMetric(ratio(pct(real, 99), pct(ref, 99)), "p99-ratio")
		b.ReportMetric(float64(pct(real, 99))/1e3, "builtin-p99-µs")
		b.ReportMetric(float64(pct(ref, 99))/1e3, "trivial-p99-µs")
	})
	names := []string{"vm", "wasm", "topdown"}
	evaluators := []*Engine{engines["builtin"], engines["wasm"], engines["topdown"]}
	for _, c := range []struct {
		name string
		in   policy.Input
	}{
		{"evaluators-job", inputs[0]},
		{"evaluators-job-denied", inputs[1]},
		{"evaluators-read", matrixInput("dataset.list", true, "officer")},
	} {
		b.Run(c.name, func(b *testing.B) { benchEvaluators(b, ctx, c.in, names, evaluators) })
	}
}

// benchEvaluators alternates the engines per iteration on in and reports
// each one's p50 and p99 and their ratios to the first's.
func benchEvaluators(b *testing.B, ctx context.Context, in policy.Input, names []string, engines []*Engine) {
	lat := make([][]time.Duration, len(engines))
	for i := range lat {
		lat[i] = make([]time.Duration, 0, b.N)
	}
	for range b.N {
		for i, e := range engines {
			start := time.Now()
			if _, err := e.Decide(ctx, in); err != nil {
				b.Fatal(err)
			}
			lat[i] = append(lat[i], time.Since(start))
		}
	}
	b.StopTimer()
	for i, name := range names {
		slices.Sort(lat[i])
		b.ReportMetric(float64(pct(lat[i], 50))/1e3, name+"-p50-µs")
		b.ReportMetric(float64(pct(lat[i], 99))/1e3, name+"-p99-µs")
		if i > 0 {
			b.ReportMetric(ratio(pct(lat[i], 50), pct(lat[0], 50)), name+"/"+names[0]+"-p50")
			b.ReportMetric(ratio(pct(lat[i], 99), pct(lat[0], 99)), name+"/"+names[0]+"-p99")
		}
	}
}

func report(b *testing.B, prefix string, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(pct(lat, 50))/1e3, prefix+"p50-µs")
	b.ReportMetric(float64(pct(lat, 99))/1e3, prefix+"p99-µs")
}

// pct returns the p-th percentile of sorted latencies.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
