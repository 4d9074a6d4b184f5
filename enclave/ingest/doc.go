// Package ingest is the data plane of datasets: the import spec (levels,
// market class, personal-information types, desensitization rules), the
// marks that the Arrow schema carries, and the import pipeline that turns a
// raw CSV, Parquet or Arrow file into a desensitized, marked, encrypted and
// fingerprinted dataset version directory.
//
// A dataset version directory holds two files, both sealed with the
// version's own data key (package sealedfile): DataFile, the Arrow IPC file
// that jobs read after Decrypt, and FingerprintsFile, the fingerprint index
// (package egress-review/fingerprint) that the egress checks load with
// OpenFingerprints. The raw input is never stored.
//
// The catalogue state itself (names, versions, states, who imported what)
// belongs to the caller; this package is stateless.
package ingest
