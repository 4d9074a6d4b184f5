// Package audit is the enclave's tamper-evident audit log (R-05, R-12,
// promise 5 of DESIGN.md).
//
// Every event is stored as canonical JSON in an append-only segment file and
// becomes one leaf of an RFC 6962 Merkle tree (SHA-256). Appends are group
// committed: concurrent callers share one write and one fsync, and each group
// ends with a checkpoint (tree size, root hash, time) signed by the keyring,
// written in the same write. Append returns only after that fsync, so an
// acknowledged event is durable and covered by a signed checkpoint.
//
// Writes go through one committer goroutine, with no timer: it takes every
// append queued so far as one group, writes their entries and a checkpoint
// signed for the group with one write, fdatasyncs and acknowledges. Appends
// that arrive meanwhile queue up and form the next group, so a lone caller
// pays one fsync, N concurrent callers share one, and no append waits for
// more than the group in flight and its own. Callers frame and hash their
// own records, so the committer only concatenates, extends the tree and
// signs. A checkpoint is signed for every group commit (more often than
// "every N entries or second", at no extra fsync).
//
// Verify and VerifyDir recompute every leaf from the segment bytes, the tree
// root against the latest signed checkpoint and that checkpoint's signature,
// and name the first entry that does not match.
//
// # Files
//
// The log directory (mode 0700) holds segment files named after the index of
// their first entry, "00000000000000000000.seg" (mode 0600). A segment is a
// 20-byte header (magic, first index, CRC-32C) followed by records:
//
//	type (1) | body length (4, big endian) | CRC-32C of the first 5 bytes (4) |
//	body | CRC-32C of type and body (4)
//
// Record type 'E' holds one event (its canonical JSON is the Merkle leaf);
// type 'C' holds a signed checkpoint as canonical JSON. Each segment starts
// with a copy of the latest checkpoint, so the newest segment always holds
// one. When a segment grows past the rotation size it is sealed: its leaf
// hashes are written to a sibling "….leaves" file. A later retention purge
// may delete a sealed segment's ".seg" file and keep its ".leaves" file; the
// tree, and Verify, stay intact because leaves are all they need.
//
// # Crashes and damage
//
// On Open an incomplete trailing record of the newest segment, and complete
// entries after its last checkpoint, were never acknowledged; they are cut
// off and the cut is audited ("audit.recover"). Anything else that does not
// parse or match is left alone: the Log opens read-only (Damaged reports
// why) and Verify names the entry. Repairing a damaged log is an operator's
// task and not automated.
//
// The Log keeps the tree in memory: every node for the newest segment, and
// for sealed segments only subtrees of 256 leaves and up (a quarter of a
// byte per entry); proofs that need lower nodes there read leaf hashes from
// the leaves files.
package audit
