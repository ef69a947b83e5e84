package store

import (
	"encoding/json"
	"fmt"
	"os"
)

// WriteJSON saves v as indented JSON with WriteFileAtomic: the one way the
// engines' state files (leases, identifiers, prefix plans) reach the disk.
func WriteJSON(path string, v any, perm os.FileMode) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("store: %s: %w", path, err)
	}
	return WriteFileAtomic(path, append(data, '\n'), perm)
}

// ReadJSON loads a file written by WriteJSON. A missing file gives the zero
// T and an error matching os.ErrNotExist.
func ReadJSON[T any](path string) (T, error) {
	var v T
	data, err := os.ReadFile(path)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("store: %s: %w", path, err)
	}
	return v, nil
}
