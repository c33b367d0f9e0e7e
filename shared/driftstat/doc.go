// Package driftstat holds the statistics of drift monitoring: how far a
// window of recent values has moved from a feature's training baseline, and
// whether that counts as drift.
//
// The primitives are two-sample tests and distances, each checked against
// scipy 1.10.1 in the tests (tolerances there and on each function):
// KS (scipy.stats.ks_2samp, method 'auto': exact up to 10,000 values a side,
// else the Kolmogorov distribution), Wasserstein
// (scipy.stats.wasserstein_distance), PSI (empty bins at 0.0001), JSDistance
// (scipy.spatial.distance.jensenshannon, base 2), ChiSquare
// (scipy.stats.chi2_contingency without correction) and BenjaminiHochberg.
//
// A column comparison runs in one streaming pass in memory that does not grow
// with the rows: a Reference reads a feature's baseline from its training
// profile (a KLL sketch, moments and decile bins for numbers; exact value
// counts for categories); its Current window keeps the first ExactLimit
// values exactly (so small windows get exact statistics) and a KLL sketch
// past that, with exact counts on the baseline's bins, moments, and the
// missing, out-of-range and unseen counts. Windows merge (days into a range).
// Compare computes every statistic for the type; Decide corrects the
// p-values across features and applies the per-feature rule and the dataset
// verdict (see Decide). CompareOutput does the same for a model output
// against the bundle's test-set baseline (prediction drift).
//
// Missing values are never dropped silently: the change in a feature's null
// rate is drift in its own right, as is a share of values outside the
// contract's range or never seen in training.
package driftstat
