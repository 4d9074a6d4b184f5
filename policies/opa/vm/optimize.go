package vm

// OPA's planner copies a value to a new local wherever a Rego variable is
// bound: the key and value of every scan, the result of every call, every
// `x := y`. About a fifth of the statements a job admission executes are
// such copies. propagate removes the copies that cannot change what a
// plan computes, and has the statements after them read the original:
//
//   - the copy's target is written nowhere else in the function (so, read
//     after the copy, it holds the copied value), and is neither a
//     parameter nor the result;
//   - every read of the target is in the statements after the copy in the
//     same block, which run only after it;
//   - the source is a local that no statement after the copy in that block
//     writes, so that it still holds the copied value wherever the target
//     was read. (A copy shares a collection rather than copying it, so a
//     collection changed through either local is the same.)
//
// The conformance test runs OPA's test cases through plans so optimized.

// writesTarget is whether an instruction of the op writes its target
// local; mutates whether it reads it too (an append, an insert, or a
// comparison with an earlier value).
func writesTarget(op opcode) bool {
	switch op {
	case opDot, opAssignVar, opAssignVarOnce, opCallFunc, opCallBuiltin, opCallDynamic,
		opResetLocal, opMakeNull, opConst, opMakeArray, opMakeObject, opMakeSet, opLen,
		opObjectMerge, opWith, opArrayAppend, opObjectInsert, opObjectInsertOnce, opSetAdd:
		return true
	}
	return false
}

func readsTarget(op opcode) bool {
	switch op {
	case opAssignVarOnce, opArrayAppend, opObjectInsert, opObjectInsertOnce, opSetAdd, opWith:
		return true
	}
	return false
}

// nested returns the blocks an instruction holds.
func nested(in *instr) [][]instr {
	if in.x == nil {
		return nil
	}
	if in.x.body != nil {
		return [][]instr{in.x.body}
	}
	return in.x.blocks
}

// visit calls read for every local that the instructions of b (and of
// their nested blocks) read, and write for every local they write. read
// gets a pointer, through which it may change the local read.
func visit(b []instr, read func(*int32), write func(int32)) {
	for i := range b {
		in := &b[i]
		// Operands that an op does not use are zero; local 0 (the input)
		// is never a copy's target, so counting them does no harm.
		for _, o := range []*operand{&in.a, &in.b} {
			if o.local >= 0 {
				read(&o.local)
			}
		}
		if in.x != nil {
			for _, ops := range [][]operand{in.x.args, in.x.path} {
				for j := range ops {
					if ops[j].local >= 0 {
						read(&ops[j].local)
					}
				}
			}
			for j := range in.x.locals {
				read(&in.x.locals[j])
			}
		}
		if readsTarget(in.op) {
			read(&in.target)
		}
		if writesTarget(in.op) {
			write(in.target)
		}
		if in.op == opScan {
			write(in.x.key)
			write(in.x.value)
		}
		for _, nb := range nested(in) {
			visit(nb, read, write)
		}
	}
}

// count returns how many times the instructions of bs read and write
// local l.
func count(bs [][]instr, l int32) (reads, writes int) {
	for _, b := range bs {
		visit(b, func(p *int32) {
			if *p == l {
				reads++
			}
		}, func(w int32) {
			if w == l {
				writes++
			}
		})
	}
	return reads, writes
}

// propagate removes the copies of the blocks of one function (or of the
// plan) that it may; keep reports the locals that must stay (parameters,
// the result, input and data).
func propagate(blocks [][]instr, keep func(int32) bool) [][]instr {
	var walk func(b []instr)
	walk = func(b []instr) {
		for i := range b {
			in := &b[i]
			for _, nb := range nested(in) {
				walk(nb)
			}
			if in.op != opAssignVar || in.a.local < 0 || keep(in.target) || in.target == in.a.local {
				continue
			}
			t, s := in.target, in.a.local
			rest := [][]instr{b[i+1:]}
			readsAll, writesAll := count(blocks, t)
			readsRest, _ := count(rest, t)
			_, writesSource := count(rest, s)
			if writesAll != 1 || readsRest != readsAll || writesSource != 0 {
				continue
			}
			visit(b[i+1:], func(p *int32) {
				if *p == t {
					*p = s
				}
			}, func(int32) {})
			*in = instr{op: opNop, a: operand{local: -1}, b: operand{local: -1}, x: in.x}
		}
	}
	for _, b := range blocks {
		walk(b)
	}
	var compact func(b []instr) []instr
	compact = func(b []instr) []instr {
		out := b[:0]
		for i := range b {
			if b[i].op == opNop { // removed copies, and the plan's own no-ops
				continue
			}
			in := b[i]
			if in.x != nil && in.x.body != nil {
				in.x.body = compact(in.x.body)
			}
			if in.x != nil {
				for j := range in.x.blocks {
					in.x.blocks[j] = compact(in.x.blocks[j])
				}
			}
			out = append(out, in)
		}
		return out
	}
	for i := range blocks {
		blocks[i] = compact(blocks[i])
	}
	return blocks
}
