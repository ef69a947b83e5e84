package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// One file per revision, named by its sequence number. The zero padding only
// makes `ls` sort them; the loader parses the number, so seq 1000000 works.
const (
	revPrefix = "rev-"
	revSuffix = ".json"
)

func revName(seq int) string { return fmt.Sprintf("%s%06d%s", revPrefix, seq, revSuffix) }

// parseRevName returns the sequence number in a revision file name.
func parseRevName(name string) (int, bool) {
	digits, ok := strings.CutPrefix(name, revPrefix)
	if !ok {
		return 0, false
	}
	digits, ok = strings.CutSuffix(digits, revSuffix)
	if !ok || digits == "" || len(digits) > 18 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	seq, err := strconv.Atoi(digits)
	if err != nil || seq <= 0 {
		return 0, false
	}
	return seq, true
}

// revFile is the on-disk form of a Revision. Unknown fields are ignored so
// that a firmware downgrade can still read what a newer one wrote, instead of
// taking every revision for corrupt and falling back to the factory config.
type revFile struct {
	Seq       int       `json:"seq"`
	Time      time.Time `json:"time"`
	Comment   string    `json:"comment"`
	ConfirmBy time.Time `json:"confirm_by,omitzero"`
	// SHA256 is the checksum of Revision.Config. A rename makes the file
	// appear whole, but a disk or a filesystem mounted without data
	// ordering can still hand back a torn or stale file.
	SHA256 string          `json:"sha256"`
	Config json.RawMessage `json:"config,omitempty"`
}

// normalizeDoc checks that doc is one JSON object and returns it the way a
// revision stores it: surrounding white space trimmed and a single trailing
// newline, which is how config.Canonical writes documents, so canonical
// documents come back byte for byte.
func normalizeDoc(doc []byte) ([]byte, error) {
	t := bytes.TrimSpace(doc)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return nil, errors.New("config document is not a JSON object")
	}
	out := make([]byte, 0, len(t)+1)
	out = append(out, t...)
	return append(out, '\n'), nil
}

func checksum(config []byte) string {
	sum := sha256.Sum256(config)
	return hex.EncodeToString(sum[:])
}

// encodeRevision writes the header with encoding/json and splices the config
// document in verbatim: marshalling it as a json.RawMessage would compact it,
// and the user's layout would be lost. r.Config must come from normalizeDoc.
func encodeRevision(r Revision) ([]byte, error) {
	head, err := json.MarshalIndent(revFile{
		Seq:       r.Seq,
		Time:      r.Time,
		Comment:   r.Comment,
		ConfirmBy: r.ConfirmBy,
		SHA256:    checksum(r.Config),
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode revision %d: %w", r.Seq, err)
	}
	head = bytes.TrimSuffix(head, []byte("\n}"))
	var b bytes.Buffer
	b.Grow(len(head) + len(r.Config) + 16)
	b.Write(head)
	b.WriteString(",\n  \"config\": ")
	b.Write(bytes.TrimSpace(r.Config))
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}

// decodeRevision parses a revision file. Anything short of a complete file
// whose config matches its checksum is an error.
func decodeRevision(data []byte) (Revision, error) {
	var f revFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Revision{}, err
	}
	switch {
	case f.Seq <= 0:
		return Revision{}, fmt.Errorf("bad seq %d", f.Seq)
	case f.Time.IsZero():
		return Revision{}, errors.New("no time")
	case f.SHA256 == "":
		return Revision{}, errors.New("no checksum")
	}
	cfg, err := normalizeDoc(f.Config)
	if err != nil {
		return Revision{}, err
	}
	if sum := checksum(cfg); sum != f.SHA256 {
		return Revision{}, fmt.Errorf("config checksum %s, file says %s", sum, f.SHA256)
	}
	return Revision{
		Seq:       f.Seq,
		Time:      f.Time,
		Comment:   f.Comment,
		Config:    cfg,
		ConfirmBy: f.ConfirmBy,
	}, nil
}
