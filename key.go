package lobby

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lobbyhq/lobby/storage"
)

// LoadOrCreateKey reads the secret key kept in the file at path, or, when
// there is no such file, generates one and writes it there with mode 0600
// (its directory 0700). created says which. Two processes starting at once
// end up with the same key. Back the file up with the database: what it
// sealed cannot be opened without it.
func LoadOrCreateKey(path string) (key []byte, created bool, err error) {
	for range 2 { // a second round reads the file a concurrent starter just wrote
		b, err := os.ReadFile(path)
		if err == nil {
			k, err := storage.ParseKey(string(b))
			if err != nil {
				return nil, false, fmt.Errorf("lobby: key file %s: %w", path, err)
			}
			return k, false, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, false, fmt.Errorf("lobby: read key file: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("lobby: create key directory: %w", err)
		}
		gen, err := storage.GenerateKey()
		if err != nil {
			return nil, false, err
		}
		// Write a temporary file, then link it into place: the key file
		// appears whole or not at all, and only one starter's link wins.
		tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-key-*")
		if err != nil {
			return nil, false, fmt.Errorf("lobby: write key file: %w", err)
		}
		_, werr := tmp.WriteString(gen + "\n")
		if cerr := tmp.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Link(tmp.Name(), path)
		}
		os.Remove(tmp.Name())
		if errors.Is(werr, fs.ErrExist) {
			continue
		}
		if werr != nil {
			return nil, false, fmt.Errorf("lobby: write key file: %w", werr)
		}
		k, err := storage.ParseKey(gen)
		return k, true, err
	}
	return nil, false, fmt.Errorf("lobby: key file %s appeared and vanished while starting; try again", path)
}
