// Package reuse is the two steps of the memory a server's requests reuse
// rather than allocate (the prediction endpoint's pooled buffers): a slice
// taken at the length a request needs, and given back cleared.
package reuse

// Slice returns s at length n: s's own array where it has room, a new one
// otherwise. A slice new, or given back through Clear, holds zeros.
func Slice[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Clear zeroes s to its capacity and returns it empty: a pooled buffer then
// keeps nothing it pointed to alive, and hands the next request no value of
// the last.
func Clear[T any](s []T) []T {
	s = s[:cap(s)]
	clear(s)
	return s[:0]
}
