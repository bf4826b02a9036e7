package storage

import (
	"time"

	"github.com/google/uuid"
)

// Role is what a staff user may do.
type Role string

// Staff roles.
const (
	RoleSponsor Role = "sponsor"
	RoleAdmin   Role = "admin"
)

// Staff is a sponsor or an admin.
type Staff struct {
	ID                uuid.UUID
	Username          string // as typed; unique as FoldKey folds it
	Email             string
	DisplayName       string
	Role              Role
	PasswordHash      string // a bcrypt or argon2id hash, never a plaintext
	PasswordChangedAt time.Time
	Disabled          bool
	CreatedAt         time.Time
}
