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

// OpenMailPayload opens sealed, the stored payload of m, into m.Payload.
// There is nothing to open in a list row (sealed is empty) nor in a message
// marked dead because its payload did not open. A payload that does not open
// is ErrUnreadable.
func (s *Sealer) OpenMailPayload(m *OutboxMessage, sealed []byte) error {
	if len(sealed) == 0 || (m.Status == MailDead && m.Diagnosis == DiagnosisPayloadUnreadable) {
		return nil
	}
	payload, err := s.Open(sealed, OutboxPayloadAD(m.ID))
	if err != nil {
		return err
	}
	m.Payload = payload
	return nil
}
