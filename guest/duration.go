package guest

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration as sponsors write it (a validity, an
// extension, a token's lifetime): whole numbers with a unit, as "8h",
// "2d", "1d12h", "90m", "1w". Empty is 0 (for a validity: the guest
// type's default).
func ParseDuration(v string) (time.Duration, error) {
	v = strings.ToLower(strings.ReplaceAll(v, " ", ""))
	if v == "" {
		return 0, nil
	}
	units := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	var total time.Duration
	for v != "" {
		i := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 || i == len(v) || units[v[i]] == 0 {
			return 0, errors.New("guest: bad duration: use whole numbers with m, h, d or w")
		}
		n, _ := strconv.Atoi(v[:i])
		total += time.Duration(n) * units[v[i]]
		v = v[i+1:]
	}
	if total <= 0 {
		return 0, errors.New("guest: bad duration: it must be longer than nothing")
	}
	return total, nil
}
