package passhash

import (
	"strings"
	"unicode/utf8"
)

// MinLength is the fewest characters a staff password may have.
const MinLength = 12

// commonPasswords are refused whatever their length (compared folded).
var commonPasswords = []string{
	"123456789012", "1234567890123", "12345678910111213", "qwertyuiopas", "qwertyuiop123", "password1234",
	"password12345", "passwordpassword", "iloveyou1234", "welcome12345", "letmein12345", "changeme1234",
	"administrator", "administrator1", "abcdefghijkl", "aaaaaaaaaaaa", "111111111111", "000000000000",
	"correcthorsebatterystaple", "trustno1trustno1", "sponsorsponsor", "lobbylobbylobby", "guestguestguest",
}

// CheckNew says what is wrong with pw as the new password of the staff
// user username, as a sentence for the person choosing it, or "" when it
// is acceptable. The sponsor side's change of password and the admin
// side's create and reset of a staff user share these rules.
func CheckNew(username, pw string) string {
	folded := strings.ToLower(strings.TrimSpace(pw))
	switch {
	case utf8.RuneCountInString(pw) < MinLength:
		return "Use at least 12 characters. A few unrelated words make a good one."
	case folded == strings.ToLower(username):
		return "Do not use your username as your password."
	}
	for _, c := range commonPasswords {
		if folded == c {
			return "That password is too common. Choose one that others would not guess."
		}
	}
	return ""
}
