//go:build race

package checker

// raceEnabled: the race detector's shadow memory would count against
// RLIMIT_DATA, so the watchdog alone limits a child's memory.
const raceEnabled = true
