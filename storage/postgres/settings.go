package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lobbyhq/lobby/storage"
)

// GetSetting returns the current version of key, secrets opened, or ErrNotFound.
func (s *Store) GetSetting(ctx context.Context, key string) (*storage.Setting, error) {
	var (
		st      = storage.Setting{Key: key}
		value   []byte
		sealed  []byte
		updated pgtype.Timestamptz
	)
	err := s.db.QueryRow(ctx, `SELECT version, value::text, secrets, updated_at, updated_by FROM settings WHERE key = $1`, key).
		Scan(&st.Version, &value, &sealed, &updated, &st.UpdatedBy)
	if err != nil {
		return nil, wrap("get setting "+key, err)
	}
	st.Value = json.RawMessage(value)
	st.UpdatedAt = tsOut(updated)
	if len(sealed) > 0 {
		plain, err := s.sealer.Open(sealed, storage.SettingSecretsAD(key))
		if err != nil {
			return nil, fmt.Errorf("postgres: get setting %s: %w", key, err)
		}
		if err := json.Unmarshal(plain, &st.Secrets); err != nil {
			return nil, fmt.Errorf("postgres: get setting %s: secrets are not a JSON object", key)
		}
	}
	return &st, nil
}

// PutSetting saves st as the next version if st.Version is the current one
// (0 for a first save); otherwise ErrConflict. The secrets are sealed.
func (s *Store) PutSetting(ctx context.Context, st *storage.Setting) error {
	if st.Key == "" {
		return errors.New("postgres: put setting: key is empty")
	}
	value, err := storage.SettingValue(st.Value)
	if err != nil {
		return fmt.Errorf("postgres: put setting %s: %w", st.Key, err)
	}
	var sealed []byte
	if len(st.Secrets) > 0 {
		plain, err := json.Marshal(st.Secrets)
		if err != nil {
			return fmt.Errorf("postgres: put setting %s: %w", st.Key, err)
		}
		sealed = s.sealer.Seal(plain, storage.SettingSecretsAD(st.Key))
	}
	now := s.clock()
	var q string
	if st.Version == 0 {
		q = `INSERT INTO settings (key, version, value, secrets, updated_at, updated_by)
			VALUES ($1, $2 + 1, $3::text::jsonb, $4, $5, $6) ON CONFLICT (key) DO NOTHING`
	} else {
		q = `UPDATE settings SET version = $2 + 1, value = $3::text::jsonb, secrets = $4, updated_at = $5, updated_by = $6
			WHERE key = $1 AND version = $2`
	}
	tag, err := s.db.Exec(ctx, q, st.Key, st.Version, string(value), sealed, now, st.UpdatedBy)
	if err != nil {
		return wrap("put setting "+st.Key, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: put setting %s: version %d is not the current one (someone saved in between; reload and try again): %w",
			st.Key, st.Version, storage.ErrConflict)
	}
	st.Version++
	st.UpdatedAt = now
	return nil
}
