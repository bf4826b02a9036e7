package notify

import "time"

// backoffJitter is the ± spread applied to every backoff: 0.2 means ±20 %.
const backoffJitter = 0.2

// Backoff is how long to wait after failed attempt number attempt (1 for the
// first) before the next one: base·2^(attempt-1), capped at ceiling, spread by
// ±20 % jitter and never above ceiling. r is a random number in [0, 1) (0.5 means
// no jitter); tests pass a fixed one. It is a pure function.
func Backoff(attempt int, base, ceiling time.Duration, r float64) time.Duration {
	if base <= 0 || ceiling <= 0 {
		return 0
	}
	if attempt < 1 {
		attempt = 1
	}
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2 // stops doubling at the ceiling, so it cannot overflow
	}
	d = min(d, ceiling)
	r = min(max(r, 0), 1)
	d = time.Duration(float64(d) * (1 - backoffJitter + 2*backoffJitter*r))
	return min(d, ceiling)
}
