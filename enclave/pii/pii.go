// Package pii recognises and validates the personal and enterprise
// identifiers that the regulations name as sensitive: resident ID numbers,
// mobile phone numbers, unified social credit codes, bank card numbers and
// e-mail addresses. Validators check structure and check digits; they never
// put the value itself into an error.
package pii
