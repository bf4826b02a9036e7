package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lobbyhq/lobby/storage"
)

// TryLeader takes the named lock for owner, or renews it, for ttl. It
// succeeds when nobody holds the lock, when owner already does, or when the
// holder's lease ran out.
func (s *Store) TryLeader(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if s.tx != nil {
		return false, fmt.Errorf("sqlite: leader lock %s: %w", name, storage.ErrInTx)
	}
	if name == "" || owner == "" {
		return false, errors.New("sqlite: leader lock: the name and the owner must not be empty")
	}
	if ttl <= 0 {
		return false, fmt.Errorf("sqlite: leader lock %s: ttl %v is not positive", name, ttl)
	}
	now := s.now()
	var got string
	err := s.ws.QueryRowContext(ctx, `INSERT INTO leader (name, owner, until) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
			WHERE leader.owner = excluded.owner OR leader.until <= ?
		RETURNING owner`, name, owner, micros(now.Add(ttl)), micros(now)).Scan(&got)
	held := err == nil && got == owner
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("sqlite: leader lock %s: %w", name, err)
	}
	s.held.mu.Lock()
	if held {
		s.held.names[[2]string{name, owner}] = struct{}{}
	} else {
		delete(s.held.names, [2]string{name, owner})
	}
	s.held.mu.Unlock()
	return held, nil
}

// ReleaseLeader gives the lock up if owner holds it.
func (s *Store) ReleaseLeader(ctx context.Context, name, owner string) error {
	if s.tx != nil {
		return fmt.Errorf("sqlite: release leader lock %s: %w", name, storage.ErrInTx)
	}
	s.held.mu.Lock()
	delete(s.held.names, [2]string{name, owner})
	s.held.mu.Unlock()
	if _, err := s.ws.ExecContext(ctx, "DELETE FROM leader WHERE name = ? AND owner = ?", name, owner); err != nil {
		return fmt.Errorf("sqlite: release leader lock %s: %w", name, err)
	}
	return nil
}
