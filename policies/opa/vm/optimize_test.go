package vm

import (
	"reflect"
	"testing"
)

func local(l int32) operand { return operand{local: l} }

func konst(v Value) operand { return operand{local: -1, value: v} }

// shape returns, per instruction of b, the locals it reads (nested blocks
// included), and the ops of b.
func shape(b []instr) ([][]int32, []opcode) {
	var rs [][]int32
	var ops []opcode
	for i := range b {
		var r []int32
		visit(b[i:i+1], func(p *int32) {
			if *p != 0 {
				r = append(r, *p)
			}
		}, func(int32) {})
		rs, ops = append(rs, r), append(ops, b[i].op)
	}
	return rs, ops
}

func TestPropagate(t *testing.T) {
	keep := func(l int32) bool { return l <= 1 || l == 9 }
	not := func(body ...instr) instr { return instr{op: opNot, x: &extra{body: body}} }
	tests := []struct {
		name      string
		blocks    [][]instr
		wantReads [][]int32 // of the first block, after
		wantOps   []opcode
	}{{
		name: "a copy read after it goes",
		blocks: [][]instr{{
			{op: opConst, target: 2, a: konst("x")},
			{op: opAssignVar, target: 3, a: local(2)},
			{op: opResultSetAdd, a: local(3)},
			not(instr{op: opIsDefined, a: local(3)}),
		}},
		wantReads: [][]int32{nil, {2}, {2}},
		wantOps:   []opcode{opConst, opResultSetAdd, opNot},
	}, {
		name: "a target written twice stays",
		blocks: [][]instr{{
			{op: opConst, target: 2, a: konst("x")},
			{op: opConst, target: 4, a: konst("y")},
			{op: opAssignVar, target: 3, a: local(2)},
			{op: opResultSetAdd, a: local(3)},
			{op: opAssignVar, target: 3, a: local(4)},
			{op: opResultSetAdd, a: local(3)},
		}},
		wantReads: [][]int32{nil, nil, {2}, {3}, {4}, {3}},
		wantOps:   []opcode{opConst, opConst, opAssignVar, opResultSetAdd, opAssignVar, opResultSetAdd},
	}, {
		name: "a target read in another block stays",
		blocks: [][]instr{{
			{op: opConst, target: 2, a: konst("x")},
			{op: opAssignVar, target: 3, a: local(2)},
		}, {
			{op: opResultSetAdd, a: local(3)},
		}},
		wantReads: [][]int32{nil, {2}},
		wantOps:   []opcode{opConst, opAssignVar},
	}, {
		name: "a source written after the copy keeps it",
		blocks: [][]instr{{
			{op: opConst, target: 2, a: konst("x")},
			{op: opAssignVar, target: 3, a: local(2)},
			{op: opResetLocal, target: 2},
			{op: opResultSetAdd, a: local(3)},
		}},
		wantReads: [][]int32{nil, {2}, nil, {3}},
		wantOps:   []opcode{opConst, opAssignVar, opResetLocal, opResultSetAdd},
	}, {
		name: "a kept local stays",
		blocks: [][]instr{{
			{op: opConst, target: 2, a: konst("x")},
			{op: opAssignVar, target: 9, a: local(2)},
			{op: opResultSetAdd, a: local(9)},
		}},
		wantReads: [][]int32{nil, {2}, {9}},
		wantOps:   []opcode{opConst, opAssignVar, opResultSetAdd},
	}, {
		name: "a chain of copies goes",
		blocks: [][]instr{{
			{op: opConst, target: 2, a: konst("x")},
			{op: opAssignVar, target: 3, a: local(2)},
			{op: opAssignVar, target: 4, a: local(3)},
			{op: opSetAdd, target: 5, a: local(4)},
		}},
		wantReads: [][]int32{nil, {2, 5}},
		wantOps:   []opcode{opConst, opSetAdd},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := propagate(tt.blocks, keep)
			reads, ops := shape(out[0])
			if !reflect.DeepEqual(reads, tt.wantReads) || !reflect.DeepEqual(ops, tt.wantOps) {
				t.Fatalf("got ops %v reading %v, want ops %v reading %v", ops, reads, tt.wantOps, tt.wantReads)
			}
		})
	}
}
