package driftstat

// The special functions, for the tests against scipy's own.
var (
	Kolmogn = kolmogn
	Smirnov = smirnov
	Chi2SF  = chi2SF
)
