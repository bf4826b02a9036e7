package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lobbyhq/lobby/storage"
)

// GetSetting returns the current version of key with its secrets opened, or
// ErrNotFound.
func (s *Store) GetSetting(ctx context.Context, key string) (*storage.Setting, error) {
	var (
		st      = storage.Setting{Key: key}
		value   string
		sealed  []byte
		updated sql.NullInt64
	)
	err := s.reader().QueryRowContext(ctx,
		"SELECT version, value, secrets, updated_at, updated_by FROM settings WHERE key = ?", key).
		Scan(&st.Version, &value, &sealed, &updated, &st.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get setting %q: %w", key, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get setting %q: %w", key, err)
	}
	st.Value = json.RawMessage(value)
	st.UpdatedAt = fromMicros(updated)
	if len(sealed) > 0 {
		plain, err := s.sealer.Open(sealed, storage.SettingSecretsAD(key))
		if err != nil {
			return nil, fmt.Errorf("sqlite: get setting %q: %w", key, err)
		}
		if err := json.Unmarshal(plain, &st.Secrets); err != nil {
			return nil, fmt.Errorf("sqlite: get setting %q: secrets are not a JSON object", key)
		}
	}
	return &st, nil
}

// PutSetting saves st as the next version if st.Version is the current one
// (0 for a first save); otherwise ErrConflict.
func (s *Store) PutSetting(ctx context.Context, st *storage.Setting) error {
	if st.Key == "" {
		return errors.New("sqlite: put setting: the key is empty")
	}
	v, err := storage.SettingValue(st.Value)
	if err != nil {
		return fmt.Errorf("sqlite: put setting %q: %w", st.Key, err)
	}
	value := string(v)
	var sealed []byte
	if len(st.Secrets) > 0 {
		plain, err := json.Marshal(st.Secrets)
		if err != nil {
			return fmt.Errorf("sqlite: put setting %q: encode secrets: %w", st.Key, err)
		}
		sealed = s.sealer.Seal(plain, storage.SettingSecretsAD(st.Key))
	}
	now := s.now()
	var res sql.Result
	if st.Version == 0 {
		res, err = s.writer().ExecContext(ctx, `INSERT INTO settings (key, version, value, secrets, updated_at, updated_by)
			VALUES (?, 1, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`,
			st.Key, value, sealed, micros(now), st.UpdatedBy)
	} else {
		res, err = s.writer().ExecContext(ctx, `UPDATE settings
			SET version = version + 1, value = ?, secrets = ?, updated_at = ?, updated_by = ?
			WHERE key = ? AND version = ?`,
			value, sealed, micros(now), st.UpdatedBy, st.Key, st.Version)
	}
	if err != nil {
		return fmt.Errorf("sqlite: put setting %q: %w", st.Key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: put setting %q: version %d is not the current one (someone else saved it); reload and try again: %w",
			st.Key, st.Version, storage.ErrConflict)
	}
	st.Version++
	st.UpdatedAt = now
	return nil
}
