package storage

import (
	"encoding/json"
	"errors"
	"time"
)

// Setting is one versioned settings document, such as "smtp". Value holds the
// plain fields as JSON (an empty Value is saved as {}); Secrets holds the secret ones, which the store seals at rest
// and hands back opened, so callers never see the sealing.
type Setting struct {
	Key       string
	Version   int64 // 1 for the first save, then +1 per save
	Value     json.RawMessage
	Secrets   map[string]string
	UpdatedAt time.Time
	UpdatedBy string
}

// SettingValue is the JSON a store keeps for a setting's Value: "{}" for an
// empty one, else the value itself, which must be valid JSON.
func SettingValue(v json.RawMessage) ([]byte, error) {
	if len(v) == 0 {
		return []byte("{}"), nil
	}
	if !json.Valid(v) {
		return nil, errors.New("the value is not valid JSON")
	}
	return v, nil
}
