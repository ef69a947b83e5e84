package store

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"cpe/internal/golden"
)

func sampleRevision() Revision {
	return Revision{
		Seq:       42,
		Time:      t0,
		Comment:   "open ssh on lan0 — \"try\"",
		Config:    doc("gw"),
		ConfirmBy: t0.Add(10 * time.Minute),
	}
}

// The golden file documents the on-disk format.
func TestRevisionFileFormat(t *testing.T) {
	r := sampleRevision()
	data, err := encodeRevision(r)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "rev-confirmed.json", data)
	r.ConfirmBy = time.Time{}
	data, err = encodeRevision(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("confirm_by")) {
		t.Errorf("confirm_by written without a deadline:\n%s", data)
	}
	golden.Check(t, "rev-plain.json", data)
}

func TestDecodeRevision(t *testing.T) {
	good, err := encodeRevision(sampleRevision())
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("sample has no %q", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr string // "" for success
	}{
		{"good", good, ""},
		{"compact layout", compact(t, good), ""},
		{"unknown field from a newer firmware", replace(`"seq": 42,`, `"seq": 42, "owner": "x",`), ""},
		{"empty", nil, "unexpected end"},
		{"truncated", good[:len(good)-3], "unexpected end"},
		{"trailing garbage", append(bytes.Clone(good), "{}"...), "after top-level value"},
		{"config edited", replace(`"gw"`, `"gx"`), "checksum"},
		{"checksum edited", replace(`"sha256": "`, `"sha256": "0`), "checksum"},
		{"no checksum", replace(`"sha256"`, `"sha257"`), "no checksum"},
		{"no seq", replace(`"seq": 42`, `"seq": 0`), "bad seq"},
		{"no time", replace(`"time"`, `"tyme"`), "no time"},
		{"config null", replace(`"config": {`, `"config": null, "x": {`), "not a JSON object"},
		{"no config", replace(`"config"`, `"konfig"`), "not a JSON object"},
		{"bad time", replace(`"2026-11-26T08:00:00Z"`, `"yesterday"`), "cannot parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := decodeRevision(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("decodeRevision() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := sampleRevision()
			if r.Seq != want.Seq || !r.Time.Equal(want.Time) || r.Comment != want.Comment ||
				!bytes.Equal(r.Config, want.Config) || !r.ConfirmBy.Equal(want.ConfirmBy) {
				t.Errorf("decodeRevision() = %+v\nwant %+v", r, want)
			}
		})
	}
}

func compact(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatal(err)
	}
	// The checksum covers the config as stored; compacting the config
	// changes it, so put the original back.
	var f revFile
	if err := json.Unmarshal(b.Bytes(), &f); err != nil {
		t.Fatal(err)
	}
	cfg := bytes.TrimSpace(doc("gw"))
	return bytes.Replace(b.Bytes(), f.Config, cfg, 1)
}

// FuzzDecodeRevision feeds the revision file decoder, which reads what a
// power cut or a bad flash left behind, arbitrary bytes: it must not panic,
// and whatever it accepts must survive encode and decode unchanged.
func FuzzDecodeRevision(f *testing.F) {
	r := sampleRevision()
	confirmed, _ := encodeRevision(r)
	r.ConfirmBy = time.Time{}
	plain, _ := encodeRevision(r)
	f.Add(confirmed)
	f.Add(plain)
	f.Add(confirmed[:len(confirmed)/2])
	f.Add([]byte{})
	f.Add([]byte("{}"))
	f.Add([]byte("null"))
	f.Add([]byte(`{"seq":1,"time":"2026-01-01T00:00:00+14:00","sha256":"x","config":{}}`))
	f.Add(bytes.Replace(plain, []byte(`"gw"`), []byte(`"\u00e9\ud800"`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRevision(data)
		if err != nil {
			return
		}
		if r.Seq <= 0 || len(r.Config) == 0 || r.Config[len(r.Config)-1] != '\n' || !json.Valid(r.Config) {
			t.Fatalf("accepted a bad revision: %+v", r)
		}
		enc, err := encodeRevision(r)
		if err != nil {
			t.Fatalf("encode of a decoded revision: %v", err)
		}
		r2, err := decodeRevision(enc)
		if err != nil {
			t.Fatalf("decode of an encoded revision: %v\n%s", err, enc)
		}
		if r2.Seq != r.Seq || !r2.Time.Equal(r.Time) || r2.Comment != r.Comment ||
			!bytes.Equal(r2.Config, r.Config) || !r2.ConfirmBy.Equal(r.ConfirmBy) {
			t.Fatalf("round trip changed the revision:\n%+v\n%+v", r, r2)
		}
		enc2, err := encodeRevision(r2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable: %v\n%s\n%s", err, enc, enc2)
		}
	})
}

func TestParseRevName(t *testing.T) {
	tests := []struct {
		name string
		seq  int
		ok   bool
	}{
		{"rev-000042.json", 42, true},
		{"rev-1234567.json", 1234567, true},
		{"rev-1.json", 1, true},
		{"rev-000000.json", 0, false},
		{"rev-.json", 0, false},
		{"rev--00001.json", 0, false},
		{"rev-+00001.json", 0, false},
		{"rev-000042.json.bak", 0, false},
		{".rev-000042.json.tmp-123", 0, false},
		{"rev-99999999999999999999.json", 0, false},
	}
	for _, tt := range tests {
		seq, ok := parseRevName(tt.name)
		if seq != tt.seq || ok != tt.ok {
			t.Errorf("parseRevName(%q) = %d, %v; want %d, %v", tt.name, seq, ok, tt.seq, tt.ok)
		}
	}
	if seq, ok := parseRevName(revName(42)); !ok || seq != 42 {
		t.Errorf("revName does not round trip")
	}
}
