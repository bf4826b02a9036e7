package storage

import "github.com/google/uuid"

// The associated data that binds each sealed column's values to their row:
// a value sealed for one place does not open in another. Both backends seal
// with these, and the strings are part of the stored format: changing one
// makes every value sealed with it unreadable.

// GuestPasswordAD is the associated data of the sealed password of guest id.
func GuestPasswordAD(id uuid.UUID) string { return "guest:" + id.String() + ":password" }

// OutboxPayloadAD is the associated data of the sealed payload of outbox
// message id.
func OutboxPayloadAD(id uuid.UUID) string { return "outbox:" + id.String() }

// SettingSecretsAD is the associated data of the sealed secrets of the
// settings document key.
func SettingSecretsAD(key string) string { return "setting:" + key }
