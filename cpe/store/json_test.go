package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestJSONRoundTrip(t *testing.T) {
	type rec struct {
		Name string
		N    int
	}
	path := filepath.Join(t.TempDir(), "x.json")
	if _, err := ReadJSON[rec](path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err %v, want os.ErrNotExist", err)
	}
	if err := WriteJSON(path, rec{"a", 7}, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON[rec](path)
	if err != nil || got != (rec{"a", 7}) {
		t.Fatalf("ReadJSON = %+v, %v", got, err)
	}
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := ReadJSON[rec](path); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Fatalf("corrupt file: err %v, want a decode error", err)
	}
}
