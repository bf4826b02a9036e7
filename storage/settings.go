package storage

import (
	"encoding/json"
	"time"
)

// Setting is one versioned settings document, such as "smtp". Value holds the
// plain fields; Secrets holds the secret ones, which the store seals at rest
// and hands back opened, so callers never see the sealing.
type Setting struct {
	Key       string
	Version   int64 // 1 for the first save, then +1 per save
	Value     json.RawMessage
	Secrets   map[string]string
	UpdatedAt time.Time
	UpdatedBy string
}
